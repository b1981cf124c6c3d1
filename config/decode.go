package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hubhq/hub/core"
)

// decoder fills a Go value from a yaml.Node tree, expanding ${ENV} in
// scalars and recording the line of every key path, so that both its own
// errors and later validation errors can say where they are. New config keys
// need only a struct field with a yaml tag.
type decoder struct {
	file   string
	lookup func(string) (string, bool)
	lines  map[string]int
	errs   []error
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	policyType   = reflect.TypeFor[core.InboxPolicy]()
	textType     = reflect.TypeFor[encoding.TextUnmarshaler]()
	scalarType   = reflect.TypeFor[scalarSetter]()
)

// scalarSetter is a section that may also be written as one value, such as
// "layer: redis://…" for "layer: {url: redis://…}". A file that gives the
// section replaces the default whole, in either form.
type scalarSetter interface {
	setScalar(s string) error
}

// decode reads data over base (nil: an empty Config).
func decode(file string, data []byte, base *Config, lookup func(string) (string, bool)) (*Config, error) {
	c := base
	if c == nil {
		c = new(Config)
	}
	c.file, c.lines = file, map[string]int{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(file, err)
	}
	if len(doc.Content) == 0 { // an empty file: all defaults
		return c, nil
	}
	root := deref(doc.Content[0])
	if root.ShortTag() == "!!null" {
		return c, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: root.Line, Msg: "want a mapping of settings (key: value) at the top level"}
	}
	// Routes are all-or-nothing: a file that names its routes does not also
	// get the default chat room.
	if hasKey(root, "routes") {
		c.Routes = Routes{}
	}
	d := &decoder{file: file, lookup: lookup, lines: c.lines}
	d.value(root, "", reflect.ValueOf(c).Elem())
	return c, errors.Join(d.errs...)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns "yaml: line 3: mapping values are not allowed…" into
// "hub.yaml:3: mapping values are not allowed…".
func syntaxError(file string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: m[2]}
	}
	return &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// value decodes n into v.
func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		// "key:" with nothing after it: an empty list or value; a section
		// keeps its defaults.
		if v.Kind() != reflect.Struct {
			v.SetZero()
		}
		return
	}
	switch {
	case v.Type() == durationType:
		d.parsed(n, path, v, func(s string) (any, error) {
			dur, err := time.ParseDuration(s)
			if err != nil {
				return nil, fmt.Errorf("want a duration such as 500ms, 30s or 1m, got %q", s)
			}
			return dur, nil
		})
	case v.Type() == policyType:
		d.parsed(n, path, v, func(s string) (any, error) {
			p, err := core.ParseInboxPolicy(s)
			if err != nil {
				return nil, fmt.Errorf("unknown policy %q (want block, drop_oldest or close)", s)
			}
			return p, nil
		})
	case reflect.PointerTo(v.Type()).Implements(scalarType):
		v.SetZero()
		if n.Kind != yaml.ScalarNode {
			d.byKind(n, path, v)
			return
		}
		if s, ok := d.scalar(n, path); ok {
			if err := v.Addr().Interface().(scalarSetter).setScalar(s); err != nil {
				d.errorf(n, path, "%v", err)
			}
		}
	case reflect.PointerTo(v.Type()).Implements(textType):
		d.parsed(n, path, v, func(s string) (any, error) {
			p := reflect.New(v.Type())
			if err := p.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
				return nil, err
			}
			return p.Elem().Interface(), nil
		})
	default:
		d.byKind(n, path, v)
	}
}

func (d *decoder) byKind(n *yaml.Node, path string, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer: // an optional value: nil when the file leaves it out
		p := reflect.New(v.Type().Elem())
		d.value(n, path, p.Elem())
		v.Set(p)
	case reflect.Struct:
		d.mapping(n, path, v)
	case reflect.Slice:
		d.sequence(n, path, v)
	case reflect.Map, reflect.Interface:
		d.free(n, path, v)
	case reflect.String:
		if s, ok := d.scalar(n, path); ok {
			v.SetString(s)
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		d.parsed(n, path, v, func(s string) (any, error) {
			i, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("want a whole number, got %q", s)
			}
			return i, nil
		})
	case reflect.Bool:
		d.parsed(n, path, v, func(s string) (any, error) {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return nil, fmt.Errorf("want true or false, got %q", s)
			}
			return b, nil
		})
	default:
		panic(fmt.Sprintf("config: no decoding for %s at %s", v.Type(), path))
	}
}

// parsed decodes a scalar with parse and stores the result in v.
func (d *decoder) parsed(n *yaml.Node, path string, v reflect.Value, parse func(string) (any, error)) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	x, err := parse(s)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return
	}
	v.Set(reflect.ValueOf(x).Convert(v.Type()))
}

// scalar returns n's value with ${ENV} expanded.
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want a single value, got %s", kindName(n))
		return "", false
	}
	s, err := expand(n.Value, d.lookup)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return "", false
	}
	return s, true
}

func (d *decoder) mapping(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping (key: value), got %s", kindName(n))
		return
	}
	fields, names := fieldsOf(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" { // "<<: *anchor" merges other mappings
			d.merge(val, path, v)
			continue
		}
		p := join(path, k.Value)
		idx, ok := fields[k.Value]
		switch {
		case !ok:
			d.errorf(k, p, "unknown key%s (known: %s)", suggest(k.Value, names), strings.Join(names, ", "))
			continue
		case seen[k.Value]:
			d.errorf(k, p, "given twice (first on line %d)", d.lines[p])
			continue
		}
		seen[k.Value] = true
		d.lines[p] = k.Line
		d.value(val, p, v.Field(idx))
	}
}

func (d *decoder) merge(n *yaml.Node, path string, v reflect.Value) {
	if n = deref(n); n.Kind == yaml.SequenceNode {
		for _, m := range n.Content {
			d.value(m, path, v)
		}
		return
	}
	d.value(n, path, v)
}

// fieldsOf maps a struct's yaml keys to field indexes; untagged fields are
// not config keys.
func fieldsOf(t reflect.Type) (map[string]int, []string) {
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !t.Field(i).IsExported() {
			continue
		}
		fields[name] = i
		names = append(names, name)
	}
	slices.Sort(names)
	return fields, names
}

func (d *decoder) sequence(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "want a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		d.value(item, p, s.Index(i))
	}
	v.Set(s)
}

// free decodes a plugin's own options (map[string]any), whose shape the
// config does not know: yaml.v3 picks the types, after ${ENV} expansion.
func (d *decoder) free(n *yaml.Node, path string, v reflect.Value) {
	if !d.expandTree(n, path) {
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.errorf(n, path, "%s", strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  "))
	}
}

// expandTree expands every scalar under n in place; a plain scalar is
// re-resolved afterwards, so "port: ${PORT:-80}" decodes as a number.
func (d *decoder) expandTree(n *yaml.Node, path string) bool {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		ok := true
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				continue // keys are names, not values
			}
			ok = d.expandTree(c, path) && ok
		}
		return ok
	}
	if !strings.Contains(n.Value, "${") {
		return true
	}
	s, ok := d.scalar(n, path)
	if ok {
		n.Value = s
		if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			n.Tag = ""
		}
	}
	return ok
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}
