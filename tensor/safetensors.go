package tensor

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode/utf8"
)

// The safetensors format: an 8-byte little-endian header length N, N bytes
// of JSON mapping each tensor name to {"dtype", "shape", "data_offsets":
// [begin, end]} (offsets relative to the byte buffer that follows) plus an
// optional "__metadata__" map of strings, then the byte buffer.

// maxSafetensorsHeader is the header limit of the reference implementation.
const maxSafetensorsHeader = 100 << 20

// Safetensors is the content of a safetensors file: named arrays in file
// order plus the free-form string metadata.
type Safetensors struct {
	Names    []string // tensor names in the order of their data in the file
	Tensors  map[string]*Array
	Metadata map[string]string
}

// SafetensorsEntry describes one tensor of a safetensors header.
type SafetensorsEntry struct {
	Name       string
	DType      DType
	Shape      []int
	Begin, End int64 // byte range in the data buffer
}

var safetensorsDTypes = map[string]DType{"F32": Float32, "F64": Float64, "U8": Uint8, "I64": Int64}

func safetensorsName(d DType) string {
	for k, v := range safetensorsDTypes {
		if v == d {
			return k
		}
	}
	panic(fmt.Sprintf("tensor: no safetensors dtype for %v", d))
}

// ReadSafetensors reads and validates a whole safetensors file.
func ReadSafetensors(path string) (*Safetensors, error) {
	return decodeFile(path, decodeSafetensors)
}

// DecodeSafetensors parses a safetensors file held in memory; name is used
// in errors.
func DecodeSafetensors(name string, data []byte) (*Safetensors, error) {
	s, err := decodeSafetensors(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

func decodeSafetensors(r io.ReaderAt, size int64) (*Safetensors, error) {
	entries, meta, dataStart, err := readSafetensorsHeader(r, size)
	if err != nil {
		return nil, err
	}
	s := &Safetensors{Tensors: make(map[string]*Array, len(entries)), Metadata: meta}
	for _, e := range entries {
		raw := make([]byte, e.End-e.Begin)
		if _, err := r.ReadAt(raw, dataStart+e.Begin); err != nil && len(raw) > 0 {
			return nil, fmt.Errorf("safetensors: reading %q: %w", e.Name, err)
		}
		s.Names = append(s.Names, e.Name)
		s.Tensors[e.Name] = &Array{DType: e.DType, Shape: e.Shape, Data: decodeLE(e.DType, raw, false)}
	}
	return s, nil
}

// ReadSafetensorsHeader reads and checks the header of a safetensors file of
// the given size, without reading the tensors: every entry's dtype is known,
// its shape agrees with its byte length, offsets lie within the file, and the
// entries tile the data buffer exactly (no overlap, no gap, nothing after).
// It returns the entries sorted by offset, the metadata and where the data
// buffer starts.
func ReadSafetensorsHeader(r io.ReaderAt, size int64) ([]SafetensorsEntry, map[string]string, int64, error) {
	return readSafetensorsHeader(r, size)
}

func readSafetensorsHeader(r io.ReaderAt, size int64) ([]SafetensorsEntry, map[string]string, int64, error) {
	var pre [8]byte
	if size < 8 {
		return nil, nil, 0, fmt.Errorf("safetensors: file is %d bytes, too short for a header", size)
	}
	if _, err := r.ReadAt(pre[:], 0); err != nil {
		return nil, nil, 0, fmt.Errorf("safetensors: %w", err)
	}
	n := binary.LittleEndian.Uint64(pre[:])
	if n > maxSafetensorsHeader {
		return nil, nil, 0, fmt.Errorf("safetensors: header length %d exceeds the limit of %d bytes", n, maxSafetensorsHeader)
	}
	if int64(n) > size-8 {
		return nil, nil, 0, fmt.Errorf("safetensors: header declares %d bytes but the file has only %d after the length", n, size-8)
	}
	text := make([]byte, n)
	if _, err := r.ReadAt(text, 8); err != nil {
		return nil, nil, 0, fmt.Errorf("safetensors: reading header: %w", err)
	}
	if !utf8.Valid(text) {
		return nil, nil, 0, errors.New("safetensors: header is not valid UTF-8")
	}
	if len(bytes.TrimLeft(text, " ")) == 0 || bytes.TrimLeft(text, " ")[0] != '{' {
		return nil, nil, 0, errors.New("safetensors: header is not a JSON object")
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(text))
	if err := dec.Decode(&raw); err != nil {
		return nil, nil, 0, fmt.Errorf("safetensors: header JSON: %w", err)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); len(bytes.Trim(rest, " ")) > 0 {
		return nil, nil, 0, errors.New("safetensors: header has bytes after the JSON object")
	}
	if err := checkDuplicateKeys(text); err != nil {
		return nil, nil, 0, err
	}
	var meta map[string]string
	entries := make([]SafetensorsEntry, 0, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, 0, fmt.Errorf("safetensors: __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var info struct {
			DType   *string  `json:"dtype"`
			Shape   *[]int64 `json:"shape"`
			Offsets *[]int64 `json:"data_offsets"`
		}
		d := json.NewDecoder(bytes.NewReader(msg))
		d.DisallowUnknownFields()
		if err := d.Decode(&info); err != nil {
			return nil, nil, 0, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		if info.DType == nil || info.Shape == nil || info.Offsets == nil {
			return nil, nil, 0, fmt.Errorf("safetensors: tensor %q lacks dtype, shape or data_offsets", name)
		}
		dt, ok := safetensorsDTypes[*info.DType]
		if !ok {
			return nil, nil, 0, fmt.Errorf("safetensors: tensor %q has unsupported dtype %q (want F32, F64, U8 or I64)", name, *info.DType)
		}
		if len(*info.Offsets) != 2 {
			return nil, nil, 0, fmt.Errorf("safetensors: tensor %q: data_offsets must be [begin, end]", name)
		}
		e := SafetensorsEntry{Name: name, DType: dt, Begin: (*info.Offsets)[0], End: (*info.Offsets)[1]}
		for _, s := range *info.Shape {
			if s < 0 || s > 1<<40 {
				return nil, nil, 0, fmt.Errorf("safetensors: tensor %q has bad dimension %d", name, s)
			}
			e.Shape = append(e.Shape, int(s))
		}
		if e.Shape == nil {
			e.Shape = []int{}
		}
		if e.Begin < 0 || e.End < e.Begin {
			return nil, nil, 0, fmt.Errorf("safetensors: tensor %q has bad data_offsets [%d, %d]", name, e.Begin, e.End)
		}
		want, ok := shapeBytes(e.Shape, dt.Size())
		if !ok {
			return nil, nil, 0, fmt.Errorf("safetensors: tensor %q: shape %s of %v is too large", name, ShapeString(e.Shape), dt)
		}
		if want != e.End-e.Begin {
			return nil, nil, 0, fmt.Errorf("safetensors: tensor %q: shape %s of %v needs %d bytes, data_offsets [%d, %d] hold %d",
				name, ShapeString(e.Shape), dt, want, e.Begin, e.End, e.End-e.Begin)
		}
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].Begin != entries[j].Begin {
			return entries[i].Begin < entries[j].Begin
		}
		return entries[i].End < entries[j].End
	})
	// The entries must tile [0, buffer length) exactly.
	dataStart := 8 + int64(n)
	var pos int64
	for i, e := range entries {
		if e.Begin < pos {
			return nil, nil, 0, fmt.Errorf("safetensors: tensor %q [%d, %d] overlaps %q [%d, %d]",
				e.Name, e.Begin, e.End, entries[i-1].Name, entries[i-1].Begin, entries[i-1].End)
		}
		if e.Begin > pos {
			return nil, nil, 0, fmt.Errorf("safetensors: gap of %d bytes before tensor %q", e.Begin-pos, e.Name)
		}
		if e.End > size-dataStart {
			return nil, nil, 0, fmt.Errorf("safetensors: tensor %q ends at byte %d but the data buffer has %d (truncated?)", e.Name, e.End, size-dataStart)
		}
		pos = e.End
	}
	if pos != size-dataStart {
		return nil, nil, 0, fmt.Errorf("safetensors: data buffer has %d bytes, tensors cover %d", size-dataStart, pos)
	}
	return entries, meta, dataStart, nil
}

// checkDuplicateKeys rejects a header whose top-level object repeats a key,
// which encoding/json would silently resolve to the last one.
func checkDuplicateKeys(text []byte) error {
	dec := json.NewDecoder(bytes.NewReader(text))
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("safetensors: header JSON: %w", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("safetensors: header JSON: %w", err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return fmt.Errorf("safetensors: header repeats the key %q", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("safetensors: header JSON: %w", err)
		}
	}
	return nil
}

// EncodeSafetensors writes the named arrays and metadata in safetensors
// format. Tensors are laid out in name order; the header is padded with
// spaces to a multiple of 8 bytes, as the reference writer does, so the data
// is aligned.
func EncodeSafetensors(w io.Writer, tensors map[string]*Array, metadata map[string]string) error {
	names := make([]string, 0, len(tensors))
	for name, a := range tensors {
		if name == "__metadata__" {
			panic(fmt.Sprintf("tensor: EncodeSafetensors: reserved tensor name %q", name))
		}
		a.check("EncodeSafetensors")
		names = append(names, name)
	}
	sort.Strings(names)
	header := make(map[string]any, len(names)+1)
	var off int64
	for _, name := range names {
		a := tensors[name]
		nb, _ := shapeBytes(a.Shape, a.DType.Size())
		shape := a.Shape
		if shape == nil {
			shape = []int{}
		}
		header[name] = map[string]any{"dtype": safetensorsName(a.DType), "shape": shape, "data_offsets": []int64{off, off + nb}}
		off += nb
	}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	text, err := json.Marshal(header)
	if err != nil {
		return err
	}
	if pad := (8 - len(text)%8) % 8; pad > 0 {
		text = append(text, strings.Repeat(" ", pad)...)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var pre [8]byte
	binary.LittleEndian.PutUint64(pre[:], uint64(len(text)))
	bw.Write(pre[:])
	bw.Write(text)
	var buf []byte
	for _, name := range names {
		a := tensors[name]
		const chunk = 1 << 16
		n := a.Len()
		for i := 0; i < n; i += chunk {
			part := &Array{DType: a.DType, Data: sliceAny(a.Data, i, min(i+chunk, n))}
			buf = part.bytesLE(buf[:0])
			if _, err := bw.Write(buf); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

// WriteSafetensors writes a safetensors file atomically.
func WriteSafetensors(path string, tensors map[string]*Array, metadata map[string]string) error {
	if err := writeFileAtomic(path, func(f *os.File) error { return EncodeSafetensors(f, tensors, metadata) }); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
