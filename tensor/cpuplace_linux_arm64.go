package tensor

import "syscall"

const sysGetcpu = syscall.SYS_GETCPU
