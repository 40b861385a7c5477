package tensor

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The NumPy .npy format (numpy.lib.format): the magic "\x93NUMPY", a major and
// minor version byte, the header length (uint16 little-endian in version 1,
// uint32 in versions 2 and 3), then a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
// spaces and a newline, then the raw elements.

const npyMagic = "\x93NUMPY"

// maxNPYHeader bounds the header dict we are willing to parse; NumPy itself
// refuses headers above 10000 bytes unless told otherwise.
const maxNPYHeader = 1 << 20

// NPYHeader describes the array in a .npy file.
type NPYHeader struct {
	Major        int   // format version: 1, 2 or 3
	DType        DType // element type
	BigEndian    bool  // elements stored big-endian ('>' in descr)
	FortranOrder bool  // elements stored column-major
	Shape        []int
	DataOffset   int64 // where the elements start in the file
}

// DataBytes returns the byte length of the elements the header declares.
func (h *NPYHeader) DataBytes() int64 {
	n, _ := shapeBytes(h.Shape, h.DType.Size())
	return n
}

// ReadNPY reads a whole .npy file. Fortran-order files are transposed into C
// order and big-endian files byte-swapped, so the result is always a
// row-major little-endian-decoded Array. Errors name the file.
func ReadNPY(path string) (*Array, error) { return decodeFile(path, decodeNPY) }

// decodeFile opens path and runs decode on it with the file's size, naming
// the file in any error.
func decodeFile[T any](path string, decode func(io.ReaderAt, int64) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return zero, err
	}
	v, err := decode(f, st.Size())
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// DecodeNPY parses a .npy file held in memory; name is used in errors.
func DecodeNPY(name string, data []byte) (*Array, error) {
	a, err := decodeNPY(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return a, nil
}

func decodeNPY(r io.ReaderAt, size int64) (*Array, error) {
	h, err := readNPYHeader(r, size)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, h.DataBytes())
	if _, err := r.ReadAt(raw, h.DataOffset); err != nil && !(err == io.EOF && len(raw) == 0) {
		return nil, fmt.Errorf("npy: reading %d data bytes: %w", len(raw), err)
	}
	a := &Array{DType: h.DType, Shape: h.Shape, Data: decodeLE(h.DType, raw, h.BigEndian)}
	if h.FortranOrder && len(h.Shape) > 1 {
		a.Data = fortranToC(a.Data, h.Shape)
	}
	return a, nil
}

// ReadNPYHeader reads and checks the header of a .npy file of the given
// size: the declared data must fit the file exactly, so a lying header is
// rejected before anything is allocated for its data.
func ReadNPYHeader(r io.ReaderAt, size int64) (*NPYHeader, error) {
	return readNPYHeader(r, size)
}

func readNPYHeader(r io.ReaderAt, size int64) (*NPYHeader, error) {
	var pre [12]byte
	n, err := r.ReadAt(pre[:], 0)
	if n < 10 {
		if err == nil || err == io.EOF {
			return nil, fmt.Errorf("npy: file is %d bytes, too short for a header", size)
		}
		return nil, fmt.Errorf("npy: %w", err)
	}
	if string(pre[:6]) != npyMagic {
		return nil, errors.New("npy: not a .npy file (bad magic)")
	}
	h := &NPYHeader{Major: int(pre[6])}
	var hlen, start int64
	switch h.Major {
	case 1:
		hlen, start = int64(binary.LittleEndian.Uint16(pre[8:10])), 10
	case 2, 3:
		if n < 12 {
			return nil, fmt.Errorf("npy: file is %d bytes, too short for a version %d header", size, h.Major)
		}
		hlen, start = int64(binary.LittleEndian.Uint32(pre[8:12])), 12
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d.%d", pre[6], pre[7])
	}
	if hlen > maxNPYHeader {
		return nil, fmt.Errorf("npy: header length %d exceeds the limit of %d bytes", hlen, maxNPYHeader)
	}
	if start+hlen > size {
		return nil, fmt.Errorf("npy: header declares %d bytes but the file has only %d after the preamble", hlen, size-start)
	}
	text := make([]byte, hlen)
	if _, err := r.ReadAt(text, start); err != nil {
		return nil, fmt.Errorf("npy: reading header: %w", err)
	}
	if err := parseNPYDict(string(text), h); err != nil {
		return nil, err
	}
	h.DataOffset = start + hlen
	want, ok := shapeBytes(h.Shape, h.DType.Size())
	if !ok {
		return nil, fmt.Errorf("npy: shape %s of %v is too large", ShapeString(h.Shape), h.DType)
	}
	if have := size - h.DataOffset; have != want {
		if have < want {
			return nil, fmt.Errorf("npy: shape %s of %v needs %d data bytes, file has %d (truncated?)", ShapeString(h.Shape), h.DType, want, have)
		}
		return nil, fmt.Errorf("npy: shape %s of %v needs %d data bytes, file has %d (trailing data)", ShapeString(h.Shape), h.DType, want, have)
	}
	return h, nil
}

// parseNPYDict parses the header's Python dict literal into h.
func parseNPYDict(s string, h *NPYHeader) error {
	if !utf8Printable(s) {
		return errors.New("npy: header contains control or non-text bytes")
	}
	p := &pyLexer{s: strings.TrimRight(s, " \n\x00")}
	if !p.eat('{') {
		return errors.New("npy: header is not a dict literal")
	}
	seen := map[string]bool{}
	for {
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return fmt.Errorf("npy: header key: %w", err)
		}
		if seen[key] {
			return fmt.Errorf("npy: header key %q repeated", key)
		}
		seen[key] = true
		if !p.eat(':') {
			return fmt.Errorf("npy: header: missing ':' after %q", key)
		}
		switch key {
		case "descr":
			d, err := p.str()
			if err != nil {
				return fmt.Errorf("npy: descr: %w", err)
			}
			if h.DType, h.BigEndian, err = parseDescr(d); err != nil {
				return err
			}
		case "fortran_order":
			switch {
			case p.word("True"):
				h.FortranOrder = true
			case p.word("False"):
				h.FortranOrder = false
			default:
				return errors.New("npy: fortran_order is not True or False")
			}
		case "shape":
			if h.Shape, err = p.intTuple(); err != nil {
				return fmt.Errorf("npy: shape: %w", err)
			}
		default:
			return fmt.Errorf("npy: unexpected header key %q", key)
		}
		if !p.eat(',') {
			if !p.eat('}') {
				return errors.New("npy: header: expected ',' or '}'")
			}
			break
		}
	}
	if p.skip(); p.i != len(p.s) {
		return errors.New("npy: header has text after the dict")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return fmt.Errorf("npy: header lacks %q", k)
		}
	}
	return nil
}

func utf8Printable(s string) bool {
	for _, r := range s {
		if r == '\n' || r == '\t' || r == '\r' {
			continue
		}
		if r < ' ' && r != 0 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// parseDescr maps a NumPy type string to a DType.
func parseDescr(d string) (DType, bool, error) {
	switch d {
	case "<f4":
		return Float32, false, nil
	case ">f4":
		return Float32, true, nil
	case "<f8":
		return Float64, false, nil
	case ">f8":
		return Float64, true, nil
	case "|u1", "<u1", ">u1", "u1":
		return Uint8, false, nil
	case "<i8":
		return Int64, false, nil
	case ">i8":
		return Int64, true, nil
	}
	return 0, false, fmt.Errorf("npy: unsupported dtype %q (want float32, float64, uint8 or int64)", d)
}

func descrOf(d DType) string {
	switch d {
	case Float32:
		return "<f4"
	case Float64:
		return "<f8"
	case Uint8:
		return "|u1"
	case Int64:
		return "<i8"
	}
	panic(fmt.Sprintf("tensor: no .npy descr for %v", d))
}

// pyLexer reads the few Python literals a .npy header uses.
type pyLexer struct {
	s string
	i int
}

func (p *pyLexer) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *pyLexer) eat(c byte) bool {
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyLexer) word(w string) bool {
	p.skip()
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

// str reads a quoted string without escapes (none occur in valid headers).
func (p *pyLexer) str() (string, error) {
	p.skip()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", errors.New("expected a quoted string")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", errors.New("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	if strings.ContainsRune(v, '\\') {
		return "", errors.New("escapes are not supported in header strings")
	}
	p.i += end + 2
	return v, nil
}

// intTuple reads (), (3,) or (3, 4) with non-negative ints (Python 2's 3L too).
func (p *pyLexer) intTuple() ([]int, error) {
	if !p.eat('(') {
		return nil, errors.New("expected a tuple")
	}
	shape := []int{}
	for {
		if p.eat(')') {
			return shape, nil
		}
		p.skip()
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		if j == p.i {
			return nil, fmt.Errorf("expected a non-negative integer at %q", clip(p.s[p.i:], 12))
		}
		v, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
		if err != nil || v > math.MaxInt32*int64(1<<16) {
			return nil, fmt.Errorf("dimension %s is too large", p.s[p.i:j])
		}
		p.i = j
		if p.i < len(p.s) && p.s[p.i] == 'L' {
			p.i++
		}
		shape = append(shape, int(v))
		if len(shape) > 64 {
			return nil, errors.New("more than 64 dimensions")
		}
		if !p.eat(',') {
			if !p.eat(')') {
				return nil, errors.New("expected ',' or ')'")
			}
			return shape, nil
		}
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// fortranToC reorders column-major elements into row-major ones.
func fortranToC(data any, shape []int) any {
	n := numel(shape)
	// For C index c with multi-index (i0..ik), the Fortran offset is
	// i0 + d0*(i1 + d1*(...)); walk the C order with an odometer.
	perm := make([]int, n)
	idx := make([]int, len(shape))
	fstride := make([]int, len(shape))
	s := 1
	for k := range shape {
		fstride[k] = s
		s *= shape[k]
	}
	off := 0
	for c := 0; c < n; c++ {
		perm[c] = off
		for k := len(shape) - 1; k >= 0; k-- {
			idx[k]++
			off += fstride[k]
			if idx[k] < shape[k] {
				break
			}
			off -= fstride[k] * shape[k]
			idx[k] = 0
		}
	}
	switch v := data.(type) {
	case []float32:
		return gather(v, perm)
	case []float64:
		return gather(v, perm)
	case []uint8:
		return gather(v, perm)
	case []int64:
		return gather(v, perm)
	}
	panic("tensor: fortranToC: unknown data")
}

func gather[T any](v []T, perm []int) []T {
	out := make([]T, len(v))
	for i, p := range perm {
		out[i] = v[p]
	}
	return out
}

// npyHeaderBytes builds a version 1 header (version 2 when the dict does not
// fit 65535 bytes), padded so the data starts on a 64-byte boundary as
// NumPy writes it.
func npyHeaderBytes(d DType, shape []int) []byte {
	var dict strings.Builder
	fmt.Fprintf(&dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descrOf(d))
	for i, s := range shape {
		if i > 0 {
			dict.WriteString(", ")
		}
		dict.WriteString(strconv.Itoa(s))
	}
	if len(shape) == 1 {
		dict.WriteString(",")
	}
	dict.WriteString("), }")
	// NumPy leaves room for the first dimension to grow to 21 digits, so a
	// file can be appended to in place; doing the same makes our files
	// byte-identical to numpy.save's.
	if len(shape) > 0 {
		dict.WriteString(strings.Repeat(" ", max(0, 21-len(strconv.Itoa(shape[0])))))
	}
	text := dict.String()
	for _, v := range []struct {
		major int
		pre   int
	}{{1, 10}, {2, 12}} {
		total := v.pre + len(text) + 1
		pad := 64 - total%64 // 1..64, as numpy pads
		hlen := len(text) + pad + 1
		if v.major == 1 && hlen > math.MaxUint16 {
			continue
		}
		out := make([]byte, 0, v.pre+hlen)
		out = append(out, npyMagic...)
		out = append(out, byte(v.major), 0)
		if v.major == 1 {
			out = binary.LittleEndian.AppendUint16(out, uint16(hlen))
		} else {
			out = binary.LittleEndian.AppendUint32(out, uint32(hlen))
		}
		out = append(out, text...)
		out = append(out, bytes.Repeat([]byte{' '}, pad)...)
		return append(out, '\n')
	}
	panic("unreachable")
}

// EncodeNPY writes a in .npy format (C order, little-endian) to w.
func EncodeNPY(w io.Writer, a *Array) error {
	a.check("EncodeNPY")
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.Write(npyHeaderBytes(a.DType, a.Shape)); err != nil {
		return err
	}
	// Encode in chunks so a large array is not duplicated in memory.
	const chunk = 1 << 16
	n := a.Len()
	buf := make([]byte, 0, chunk*a.DType.Size())
	for i := 0; i < n; i += chunk {
		j := min(i+chunk, n)
		part := &Array{DType: a.DType, Data: sliceAny(a.Data, i, j)}
		buf = part.bytesLE(buf[:0])
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func sliceAny(data any, i, j int) any {
	switch v := data.(type) {
	case []float32:
		return v[i:j]
	case []float64:
		return v[i:j]
	case []uint8:
		return v[i:j]
	case []int64:
		return v[i:j]
	}
	panic("tensor: sliceAny: unknown data")
}

// WriteNPY writes a to path atomically (temporary file, then rename).
func WriteNPY(path string, a *Array) error {
	a.check("WriteNPY")
	if err := writeFileAtomic(path, func(f *os.File) error { return EncodeNPY(f, a) }); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// NPYFile is an open .npy file whose rows (slices along the first axis) are
// read on demand, for arrays too large to hold in memory.
type NPYFile struct {
	Header NPYHeader
	name   string
	f      *os.File
	row    int64 // bytes per row
}

// OpenNPY opens a C-order .npy file and checks its header against its size.
func OpenNPY(path string) (*NPYFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	h, err := readNPYHeader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if h.FortranOrder && len(h.Shape) > 1 {
		f.Close()
		return nil, fmt.Errorf("%s: npy: Fortran-order arrays cannot be read by rows; use ReadNPY", path)
	}
	if len(h.Shape) == 0 {
		f.Close()
		return nil, fmt.Errorf("%s: npy: a 0-d array has no rows", path)
	}
	nf := &NPYFile{Header: *h, name: path, f: f}
	nf.row, _ = shapeBytes(h.Shape[1:], h.DType.Size())
	return nf, nil
}

// Rows returns the length of the first axis.
func (f *NPYFile) Rows() int { return f.Header.Shape[0] }

// RowLen returns the number of elements in one row.
func (f *NPYFile) RowLen() int { return int(f.row) / f.Header.DType.Size() }

// ReadRowsFloat32 reads rows [first, first+n) converted to float32 into dst,
// which must hold n*RowLen() elements.
func (f *NPYFile) ReadRowsFloat32(first, n int, dst []float32) error {
	if first < 0 || n < 0 || first+n > f.Rows() {
		return fmt.Errorf("%s: rows [%d, %d) out of range [0, %d)", f.name, first, first+n, f.Rows())
	}
	if len(dst) != n*f.RowLen() {
		panic(fmt.Sprintf("tensor: NPYFile.ReadRowsFloat32: dst has %d elements, %d rows need %d", len(dst), n, n*f.RowLen()))
	}
	raw := make([]byte, int64(n)*f.row)
	if _, err := f.f.ReadAt(raw, f.Header.DataOffset+int64(first)*f.row); err != nil {
		return fmt.Errorf("%s: reading rows [%d, %d): %w", f.name, first, first+n, err)
	}
	big := f.Header.BigEndian
	switch f.Header.DType {
	case Float32:
		for i := range dst {
			dst[i] = math.Float32frombits(u32(raw[4*i:], big))
		}
	case Float64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(u64(raw[8*i:], big)))
		}
	case Uint8:
		for i := range dst {
			dst[i] = float32(raw[i])
		}
	case Int64:
		for i := range dst {
			dst[i] = float32(int64(u64(raw[8*i:], big)))
		}
	}
	return nil
}

// Close closes the file.
func (f *NPYFile) Close() error { return f.f.Close() }

// NPYWriter streams the elements of a .npy file whose shape is known in
// advance; Close checks that exactly that many were written and renames the
// file into place, so a partial write never appears under the final name.
type NPYWriter struct {
	path    string
	tmp     *os.File
	w       *bufio.Writer
	dtype   DType
	want    int64
	written int64
	buf     []byte
	err     error
}

// CreateNPY starts writing a .npy file of the given type and shape.
func CreateNPY(path string, d DType, shape ...int) (*NPYWriter, error) {
	if d.Size() == 0 {
		panic(fmt.Sprintf("tensor: CreateNPY: unknown dtype %v", d))
	}
	want := int64(numel(shape))
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	w := &NPYWriter{path: path, tmp: tmp, w: bufio.NewWriterSize(tmp, 1<<20), dtype: d, want: want}
	if _, err := w.w.Write(npyHeaderBytes(d, shape)); err != nil {
		w.Abort()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return w, nil
}

// Write appends elements, which must be a slice of the writer's type.
func (w *NPYWriter) Write(data any) error {
	if w.err != nil {
		return w.err
	}
	if got := dtypeOfSlice(data); got != w.dtype {
		panic(fmt.Sprintf("tensor: NPYWriter.Write: %T given to a %v writer", data, w.dtype))
	}
	a := &Array{DType: w.dtype, Data: data}
	n := int64(lenAny(data))
	if w.written+n > w.want {
		panic(fmt.Sprintf("tensor: NPYWriter.Write: %d elements exceed the declared %d", w.written+n, w.want))
	}
	w.buf = a.bytesLE(w.buf[:0])
	if _, err := w.w.Write(w.buf); err != nil {
		w.err = fmt.Errorf("writing %s: %w", w.path, err)
		return w.err
	}
	w.written += n
	return nil
}

func lenAny(data any) int {
	switch v := data.(type) {
	case []float32:
		return len(v)
	case []float64:
		return len(v)
	case []uint8:
		return len(v)
	case []int64:
		return len(v)
	}
	return 0
}

func dtypeOfSlice(data any) DType {
	switch data.(type) {
	case []float32:
		return Float32
	case []float64:
		return Float64
	case []uint8:
		return Uint8
	case []int64:
		return Int64
	}
	return 0
}

// Close finishes the file: it fails, leaving nothing behind, when fewer
// elements were written than the shape declares.
func (w *NPYWriter) Close() error {
	if w.err != nil {
		w.Abort()
		return w.err
	}
	if w.written != w.want {
		w.Abort()
		return fmt.Errorf("writing %s: %d of %d elements written", w.path, w.written, w.want)
	}
	err := w.w.Flush()
	if err == nil {
		err = w.tmp.Chmod(0o644)
	}
	if err == nil {
		err = w.tmp.Sync()
	}
	if err == nil {
		err = w.tmp.Close()
	}
	if err == nil {
		err = os.Rename(w.tmp.Name(), w.path)
	}
	if err != nil {
		os.Remove(w.tmp.Name())
		return fmt.Errorf("writing %s: %w", w.path, err)
	}
	return nil
}

// Abort discards the partial file.
func (w *NPYWriter) Abort() {
	w.tmp.Close()
	os.Remove(w.tmp.Name())
	if w.err == nil {
		w.err = fmt.Errorf("writing %s: aborted", w.path)
	}
}
