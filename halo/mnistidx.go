package halo

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// IDX is an array read from an idx file (the format of LeCun's MNIST files):
// a big-endian header of two zero bytes, an element-type byte, the number of
// dimensions, one uint32 per dimension, then the elements in C order.
type IDX struct {
	Dims []int
	Data []uint8 // only unsigned bytes (type 0x08), the type MNIST uses
}

// maxIDXBytes bounds what an idx header may declare (MNIST's training images
// are 47 MB).
const maxIDXBytes = 1 << 31

// ReadIDX reads an idx file, gzip-compressed or not.
func ReadIDX(path string) (*IDX, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return DecodeIDX(path, raw)
}

// DecodeIDX parses an idx file held in memory; name is used in errors.
func DecodeIDX(name string, raw []byte) (*IDX, error) {
	x, err := decodeIDX(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return x, nil
}

func decodeIDX(raw []byte) (*IDX, error) {
	var r io.Reader = bytes.NewReader(raw)
	gz := len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b
	if gz {
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("idx: gzip: %w", err)
		}
		defer z.Close()
		r = bufio.NewReader(z)
	}
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("idx: file too short for a header: %w", err)
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, errors.New("idx: bad magic (the first two bytes must be zero)")
	}
	if head[2] != 0x08 {
		return nil, fmt.Errorf("idx: element type 0x%02x not supported (only 0x08, unsigned byte)", head[2])
	}
	nd := int(head[3])
	if nd == 0 {
		return nil, errors.New("idx: zero dimensions")
	}
	dims := make([]int, nd)
	total := int64(1)
	for i := range dims {
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("idx: header truncated in dimension %d: %w", i, err)
		}
		dims[i] = int(binary.BigEndian.Uint32(b[:]))
		if dims[i] != 0 && total > maxIDXBytes/int64(dims[i]) {
			return nil, fmt.Errorf("idx: dimensions %v declare more than %d bytes", dims[:i+1], int64(maxIDXBytes))
		}
		total *= int64(dims[i])
	}
	if !gz {
		// The size is known: check it before allocating anything.
		if have := int64(len(raw)) - int64(4+4*nd); have != total {
			return nil, fmt.Errorf("idx: dimensions %v need %d bytes of data, file has %d", dims, total, have)
		}
		return &IDX{Dims: dims, Data: append([]uint8(nil), raw[4+4*nd:]...)}, nil
	}
	// A gzip stream's length is unknown until read: grow the buffer with the
	// data that actually arrives, so a lying header cannot force a large
	// allocation, and require the exact length.
	data, err := io.ReadAll(io.LimitReader(r, total+1))
	if err != nil {
		return nil, fmt.Errorf("idx: gzip: %w", err)
	}
	if int64(len(data)) != total {
		if int64(len(data)) > total {
			return nil, fmt.Errorf("idx: dimensions %v need %d bytes of data, file has more", dims, total)
		}
		return nil, fmt.Errorf("idx: dimensions %v need %d bytes of data, file has %d", dims, total, len(data))
	}
	return &IDX{Dims: dims, Data: data}, nil
}
