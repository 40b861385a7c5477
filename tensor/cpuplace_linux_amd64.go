package tensor

const sysGetcpu = 309 // getcpu(2); the syscall package does not name it on amd64
