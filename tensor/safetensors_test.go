package tensor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const stDir = "../testdata/data/safetensors"

type stFixture struct {
	File     string            `json:"file"`
	Metadata map[string]string `json:"metadata"`
	Tensors  map[string]struct {
		DType  string   `json:"dtype"`
		Shape  []int    `json:"shape"`
		Values []string `json:"values"`
	} `json:"tensors"`
}

var stNumPy = map[string]string{"F32": "float32", "F64": "float64", "U8": "uint8", "I64": "int64"}

func loadSTFixtures(t *testing.T) []stFixture {
	raw, err := os.ReadFile(filepath.Join(stDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []stFixture
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestReadSafetensorsFixtures(t *testing.T) {
	for _, c := range loadSTFixtures(t) {
		s, err := ReadSafetensors(filepath.Join(stDir, c.File))
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Tensors) != len(c.Tensors) || len(s.Names) != len(c.Tensors) {
			t.Fatalf("%s: %d tensors, want %d", c.File, len(s.Tensors), len(c.Tensors))
		}
		for name, w := range c.Tensors {
			a := s.Tensors[name]
			if a == nil {
				t.Fatalf("%s: tensor %q missing", c.File, name)
			}
			checkValues(t, c.File+":"+name, a, stNumPy[w.DType], w.Shape, w.Values)
		}
		if len(s.Metadata) != len(c.Metadata) {
			t.Fatalf("%s: metadata %v, want %v", c.File, s.Metadata, c.Metadata)
		}
		for k, v := range c.Metadata {
			if s.Metadata[k] != v {
				t.Fatalf("%s: metadata %v, want %v", c.File, s.Metadata, c.Metadata)
			}
		}
	}
}

// TestWriteSafetensorsSpec writes the fixtures' tensors back, checks the
// layout rules of the format by hand (length prefix, 8-byte padded JSON,
// contiguous offsets) and reads the result again.
func TestWriteSafetensorsSpec(t *testing.T) {
	s, err := ReadSafetensors(filepath.Join(stDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "out.safetensors")
	if err := WriteSafetensors(p, s.Tensors, s.Metadata); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	type ent struct {
		DType   string  `json:"dtype"`
		Shape   []int   `json:"shape"`
		Offsets []int64 `json:"data_offsets"`
	}
	var ents []ent
	for k, v := range hdr {
		if k == "__metadata__" {
			continue
		}
		var e ent
		json.Unmarshal(v, &e)
		ents = append(ents, e)
	}
	// Empty tensors share their start with the next one: order by end too.
	sort.Slice(ents, func(i, j int) bool {
		a, b := ents[i].Offsets, ents[j].Offsets
		return a[0] < b[0] || a[0] == b[0] && a[1] < b[1]
	})
	var pos int64
	for _, e := range ents {
		if e.Offsets[0] != pos {
			t.Fatalf("offsets not contiguous: %v", ents)
		}
		pos = e.Offsets[1]
	}
	if pos != int64(len(raw))-8-int64(n) {
		t.Fatalf("data buffer %d bytes, tensors cover %d", int64(len(raw))-8-int64(n), pos)
	}
	back, err := ReadSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range s.Tensors {
		var x, y bytes.Buffer
		EncodeNPY(&x, a)
		EncodeNPY(&y, back.Tensors[name])
		if !bytes.Equal(x.Bytes(), y.Bytes()) {
			t.Fatalf("tensor %q changed in a round trip", name)
		}
	}
	if back.Metadata["preset"] != "balls" {
		t.Errorf("metadata lost: %v", back.Metadata)
	}
}

func TestSafetensorsBrokenCorpus(t *testing.T) {
	// The broken files of the fuzz seed corpus, with the problem each error
	// must name.
	want := map[string]string{
		"truncated_data":   "truncated",
		"truncated_header": "header declares",
		"short_length":     "too short",
		"huge_header_len":  "exceeds the limit",
		"overlap":          "overlaps",
		"gap":              "gap of 4 bytes",
		"offset_past_end":  "truncated",
		"shape_mismatch":   "needs 16 bytes",
		"huge_shape":       "too large",
		"wrong_dtype":      "unsupported dtype \"Q7\"",
		"bf16_dtype":       "unsupported dtype \"BF16\"",
		"negative_offset":  "bad data_offsets",
		"not_json":         "not a JSON object",
		"duplicate_key":    "repeats the key",
		"bad_metadata":     "__metadata__",
		"trailing":         "tensors cover 1",
	}
	for name, msg := range want {
		data := readCorpusFile(t, filepath.Join("testdata", "fuzz", "FuzzDecodeSafetensors", name))
		_, err := DecodeSafetensors(name+".safetensors", data)
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.HasPrefix(err.Error(), name+".safetensors: ") {
			t.Errorf("%s: error %v, want one containing %q", name, err, msg)
		}
	}
	// NaN is data, not a format error.
	s, err := DecodeSafetensors("nan", readCorpusFile(t, filepath.Join("testdata", "fuzz", "FuzzDecodeSafetensors", "nan_data")))
	if err != nil {
		t.Fatal(err)
	}
	if v := s.Tensors["a"].Data.([]float32); v[0] == v[0] || v[1] != 1 {
		t.Errorf("nan_data read as %v", v)
	}
}

// readCorpusFile decodes a one-value "go test fuzz v1" file.
func readCorpusFile(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	if len(lines) < 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("%s: not a corpus file", path)
	}
	q := strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")")
	s, err := strconv.Unquote(q)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

func FuzzDecodeSafetensors(f *testing.F) {
	for _, name := range []string{"model.safetensors", "single.safetensors"} {
		b, err := os.ReadFile(filepath.Join(stDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSafetensors("fuzz.safetensors", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.safetensors: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		var total int64
		for _, name := range s.Names {
			a := s.Tensors[name]
			if lenAny(a.Data) != a.Len() || dtypeOfSlice(a.Data) != a.DType {
				t.Fatalf("inconsistent tensor %q", name)
			}
			total += int64(a.Len() * a.DType.Size())
		}
		if total > int64(len(data)) {
			t.Fatalf("tensors hold %d bytes, file has %d", total, len(data))
		}
		var buf bytes.Buffer
		if err := EncodeSafetensors(&buf, s.Tensors, s.Metadata); err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeSafetensors("again", buf.Bytes()); err != nil {
			t.Fatalf("re-reading our own output: %v", err)
		}
	})
}
