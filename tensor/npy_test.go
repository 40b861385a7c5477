package tensor

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fixtureCase is one entry of the expected.json files written by
// scripts/golden_formats.py: values as NumPy printed them (repr of float64 or
// the integer), in C order.
type fixtureCase struct {
	File   string   `json:"file"`
	DType  string   `json:"dtype"`
	Shape  []int    `json:"shape"`
	Values []string `json:"values"`
}

const npyDir = "../testdata/data/npy"

// checkValues compares an array with NumPy's printed values exactly.
func checkValues(t *testing.T, what string, a *Array, dtype string, shape []int, want []string) {
	t.Helper()
	if a.DType.String() != dtype {
		t.Fatalf("%s: dtype %v, want %s", what, a.DType, dtype)
	}
	if ShapeString(a.Shape) != ShapeString(shape) {
		t.Fatalf("%s: shape %v, want %v", what, a.Shape, shape)
	}
	if a.Len() != len(want) {
		t.Fatalf("%s: %d values, want %d", what, a.Len(), len(want))
	}
	for i, w := range want {
		var got, exp float64
		switch v := a.Data.(type) {
		case []float32:
			got = float64(v[i])
		case []float64:
			got = v[i]
		case []uint8:
			got = float64(v[i])
		case []int64:
			e, err := strconv.ParseInt(w, 10, 64)
			if err != nil || v[i] != e {
				t.Fatalf("%s[%d] = %d, want %s", what, i, v[i], w)
			}
			continue
		}
		exp = parsePyFloat(t, w)
		if !(got == exp && math.Signbit(got) == math.Signbit(exp)) && !(math.IsNaN(got) && math.IsNaN(exp)) {
			t.Fatalf("%s[%d] = %v, want %s", what, i, got, w)
		}
	}
}

func parsePyFloat(t *testing.T, s string) float64 {
	switch s {
	case "inf":
		return math.Inf(1)
	case "-inf":
		return math.Inf(-1)
	case "nan":
		return math.NaN()
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("bad fixture value %q", s)
	}
	return v
}

func TestReadNPYNumPyFixtures(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(npyDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []fixtureCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 20 {
		t.Fatalf("only %d fixtures", len(cases))
	}
	for _, c := range cases {
		a, err := ReadNPY(filepath.Join(npyDir, c.File))
		if err != nil {
			t.Fatal(err)
		}
		checkValues(t, c.File, a, c.DType, c.Shape, c.Values)
	}
}

// TestWriteNPYMatchesNumPy re-encodes arrays read from numpy.save output and
// requires the very same bytes: header dict, padding and data.
func TestWriteNPYMatchesNumPy(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(npyDir, "write", "*.npy"))
	if len(files) < 16 {
		t.Fatalf("found %d fixtures", len(files))
	}
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		a, err := DecodeNPY(f, want)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := EncodeNPY(&buf, a); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			n := min(len(want), buf.Len())
			i := 0
			for i < n && want[i] == buf.Bytes()[i] {
				i++
			}
			t.Errorf("%s: our bytes differ from numpy.save's at offset %d (len %d vs %d)", f, i, buf.Len(), len(want))
		}
	}
}

func TestNPYRoundTripAndAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.npy")
	a := NewArray([]float64{1, -2.5, math.Inf(1), math.NaN(), 0, 1e-300}, 3, 2)
	if err := WriteNPY(p, a); err != nil {
		t.Fatal(err)
	}
	b, err := ReadNPY(p)
	if err != nil {
		t.Fatal(err)
	}
	got, want := b.Data.([]float64), a.Data.([]float64)
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("element %d: %v != %v", i, got[i], want[i])
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
}

func TestNPYFileRowsAndWriter(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rows.npy")
	w, err := CreateNPY(p, Uint8, 4, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < 4; r++ {
		row := make([]uint8, 6)
		for i := range row {
			row[i] = uint8(10*r + i)
		}
		if err := w.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := OpenNPY(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Rows() != 4 || f.RowLen() != 6 {
		t.Fatalf("rows %d, row length %d", f.Rows(), f.RowLen())
	}
	dst := make([]float32, 12)
	if err := f.ReadRowsFloat32(2, 2, dst); err != nil {
		t.Fatal(err)
	}
	for i, v := range dst {
		if want := float32(20 + 10*(i/6) + i%6); v != want {
			t.Fatalf("element %d = %v, want %v", i, v, want)
		}
	}
	if err := f.ReadRowsFloat32(3, 2, dst); err == nil || !strings.Contains(err.Error(), "rows.npy") {
		t.Errorf("out-of-range rows: %v", err)
	}

	// A writer closed early leaves no file.
	q := filepath.Join(dir, "short.npy")
	w, _ = CreateNPY(q, Float32, 10)
	w.Write([]float32{1, 2})
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "2 of 10") {
		t.Errorf("short write: %v", err)
	}
	if _, err := os.Stat(q); !os.IsNotExist(err) {
		t.Errorf("short file exists: %v", err)
	}
}

func TestNPYFortranRows(t *testing.T) {
	// Row reads need C order; whole reads transpose Fortran order.
	p := filepath.Join(npyDir, "f8_3x4_fortran.npy")
	if _, err := OpenNPY(p); err == nil || !strings.Contains(err.Error(), "Fortran") {
		t.Errorf("OpenNPY on a Fortran file: %v", err)
	}
}

func TestNPYErrors(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(npyDir, "f4_2x3.npy"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
		msg  string
	}{
		{"empty", nil, "too short"},
		{"magic", append([]byte("XNUMPY"), good[6:]...), "bad magic"},
		{"truncated", good[:len(good)-1], "truncated"},
		{"trailing", append(append([]byte(nil), good...), 0), "trailing"},
		{"huge shape", bytes.Replace(good, []byte("(2, 3)"), []byte("(99999999999, 9)"), 1), "needs"},
		{"overflow", bytes.Replace(good, []byte("(2, 3)"), []byte("(9999999999999999999, 9)"), 1), "too large"},
		{"overflow product", bytes.Replace(good, []byte("(2, 3)"), []byte("(4294967296,4294967296,9)"), 1), "too large"},
		{"complex", bytes.Replace(good, []byte("<f4"), []byte("<c8"), 1), "unsupported dtype"},
		{"version", append(append([]byte(nil), good[:6]...), append([]byte{7, 0}, good[8:]...)...), "version"},
		{"header length", append(append([]byte(nil), good[:8]...), append([]byte{0xff, 0xff}, good[10:]...)...), "header declares"},
		{"missing key", bytes.Replace(good, []byte("'fortran_order': False, "), []byte("                        "), 1), "lacks"},
		{"bad bool", bytes.Replace(good, []byte("False"), []byte("Nope!"), 1), "fortran_order"},
		{"negative", bytes.Replace(good, []byte("(2, 3)"), []byte("(-2, 3)"), 1), "non-negative"},
	}
	for _, c := range cases {
		_, err := DecodeNPY("x.npy", c.data)
		if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.HasPrefix(err.Error(), "x.npy: ") {
			t.Errorf("%s: error %v, want one naming x.npy and containing %q", c.name, err, c.msg)
		}
	}
	if _, err := ReadNPY(filepath.Join(t.TempDir(), "missing.npy")); err == nil || !strings.Contains(err.Error(), "missing.npy") {
		t.Errorf("missing file: %v", err)
	}
}

func TestNPYWriterPanicsOnWrongType(t *testing.T) {
	w, err := CreateNPY(filepath.Join(t.TempDir(), "p.npy"), Float32, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(r.(string), "tensor: ") {
			t.Errorf("panic %v", r)
		}
	}()
	w.Write([]float64{1, 2})
}

// FuzzDecodeNPY checks that arbitrary bytes never panic the reader, that
// whatever it accepts is consistent with its header, and that accepted
// arrays survive a write and re-read.
func FuzzDecodeNPY(f *testing.F) {
	for _, name := range []string{"f4_2x3.npy", "f8_3x4_fortran.npy", "u1_5.npy", "i8_4_big.npy", "f4_2x3x4_v2.npy", "f4_scalar.npy"} {
		b, err := os.ReadFile(filepath.Join(npyDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeNPY("fuzz.npy", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.npy: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if lenAny(a.Data) != a.Len() || dtypeOfSlice(a.Data) != a.DType {
			t.Fatalf("inconsistent array: %v %v %T", a.DType, a.Shape, a.Data)
		}
		var buf bytes.Buffer
		if err := EncodeNPY(&buf, a); err != nil {
			t.Fatal(err)
		}
		b, err := DecodeNPY("again.npy", buf.Bytes())
		if err != nil {
			t.Fatalf("re-reading our own output: %v", err)
		}
		var again bytes.Buffer
		EncodeNPY(&again, b)
		if !bytes.Equal(buf.Bytes(), again.Bytes()) {
			t.Fatal("write/read/write is not stable")
		}
	})
}
