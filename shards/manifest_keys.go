package shards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// keySet describes the keys an object may hold: each allowed key maps to the
// shape of its value (nil: any value whose objects have no duplicate keys).
// anyKeys allows every key (options); elem describes array elements.
type keySet struct {
	keys    map[string]*keySet
	anyKeys bool
	elem    *keySet
}

func manifestKeys(version int) *keySet {
	obj := func(names ...string) *keySet {
		k := &keySet{keys: map[string]*keySet{}}
		for _, n := range names {
			k.keys[n] = nil
		}
		return k
	}
	top := obj("format", "version", "split", "records", "classes", "layout", "options", "shards", "skipped")
	top.keys["layout"] = obj("max_shard_bytes", "max_shard_records", "zstd_level", "dictionary")
	top.keys["options"] = &keySet{anyKeys: true}
	top.keys["shards"] = &keySet{elem: obj("file", "records", "bytes", "sha256")}
	top.keys["skipped"] = &keySet{elem: obj("path", "reason")}
	if version >= 2 {
		top.keys["max_pixels"] = nil
		top.keys["sha256"] = nil
		top.keys["inputs"] = &keySet{elem: obj("path", "files", "bytes", "sha256")}
	}
	return top
}

// checkKeys walks the JSON document b and refuses keys the manifest of this
// version does not have, keys spelled in another case, and keys repeated in
// one object (encoding/json would accept all three silently).
func checkKeys(b []byte, version int) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return walkValue(dec, manifestKeys(version), "")
}

func walkValue(dec *json.Decoder, shape *keySet, where string) error {
	t, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	d, ok := t.(json.Delim)
	if !ok {
		return nil // a scalar: its type is checked by the decoder proper
	}
	switch d {
	case '[':
		var elem *keySet
		if shape != nil {
			elem = shape.elem
		}
		for i := 0; dec.More(); i++ {
			if err := walkValue(dec, elem, fmt.Sprintf("%s[%d]", where, i)); err != nil {
				return err
			}
		}
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := t.(string)
			name := k
			if where != "" {
				name = where + "." + k
			}
			if seen[k] {
				return fmt.Errorf("key %q appears twice", name)
			}
			seen[k] = true
			var sub *keySet
			if shape != nil && !shape.anyKeys {
				s, ok := shape.keys[k]
				if !ok {
					return fmt.Errorf("unknown key %q (keys are lower case and exact)", name)
				}
				sub = s
			}
			if err := walkValue(dec, sub, name); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}
