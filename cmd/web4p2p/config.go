package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// ConfigFile is start's configuration file in the data dir (SPEC §12): a
// JSON object whose keys are start's flags without "--" and whose values
// replace the defaults; WEB4P2P_* variables and flags override it.
const ConfigFile = "config.json"

// maxConfigBytes bounds what is read of the config file.
const maxConfigBytes = 1 << 20

// configKind is the JSON shape a config key takes.
type configKind uint8

const (
	kindString configKind = iota + 1
	kindBool
	kindInt
	kindFloat
	kindStrings // a string or an array of strings (a repeatable flag)
)

// noConfigKeys are start flags the config file cannot set: the data dir
// holds the file, and --json/--help are about this one invocation.
var noConfigKeys = []string{"data-dir", "json", "help"}

// configKinds maps each key the config file may hold to its shape, from
// the flags of cmd.
func configKinds(flags []cli.Flag) map[string]configKind {
	out := map[string]configKind{}
	for _, f := range flags {
		name := f.Names()[0]
		if slices.Contains(noConfigKeys, name) {
			continue
		}
		switch f.(type) {
		case *cli.StringFlag:
			out[name] = kindString
		case *cli.BoolFlag:
			out[name] = kindBool
		case *cli.IntFlag:
			out[name] = kindInt
		case *cli.Float64Flag:
			out[name] = kindFloat
		case *cli.StringSliceFlag:
			out[name] = kindStrings
		}
	}
	return out
}

// configSetting is one key of the file, as the flag values it stands for.
type configSetting struct {
	Key    string
	Values []string
}

// parseConfig reads a config file strictly: one JSON object, each key a
// known flag given once, each value of the flag's type, nothing after the
// object. An error names the key or the line, column and offset, and why.
func parseConfig(data []byte, kinds map[string]configKind) ([]configSetting, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	at := func(err error) error {
		off := dec.InputOffset()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		line, col := lineCol(data, off)
		return fmt.Errorf("line %d, column %d (offset %d): %v", line, col, off, err)
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file: want a JSON object such as {\"listen\": [\"/ip4/127.0.0.1/tcp/4001\"]}")
		}
		return nil, at(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, at(fmt.Errorf("want a JSON object of start's flags, got %v", tok))
	}
	var out []configSetting
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, at(err)
		}
		key := tok.(string) // object keys are strings, or Token failed
		kind, ok := kinds[key]
		if !ok {
			return nil, fmt.Errorf("key %q: unknown (keys are start's flags without --, e.g. \"listen\", \"api\", \"trust-anchor\")", key)
		}
		if seen[key] {
			return nil, fmt.Errorf("key %q: given twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, at(err)
		}
		vals, err := configValues(raw, kind)
		if err != nil {
			return nil, fmt.Errorf("key %q: %v", key, err)
		}
		out = append(out, configSetting{Key: key, Values: vals})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, at(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, at(errors.New("data after the JSON object"))
	}
	return out, nil
}

// configValues turns one value into the flag values it stands for.
func configValues(raw json.RawMessage, kind configKind) ([]string, error) {
	dec := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		return d.Decode(v)
	}
	switch kind {
	case kindString:
		var s string
		if err := dec(&s); err != nil {
			return nil, fmt.Errorf("want a string, got %s", clipJSON(raw))
		}
		return []string{s}, nil
	case kindBool:
		var b bool
		if err := dec(&b); err != nil {
			return nil, fmt.Errorf("want true or false, got %s", clipJSON(raw))
		}
		return []string{strconv.FormatBool(b)}, nil
	case kindInt:
		var n json.Number
		if err := dec(&n); err != nil {
			return nil, fmt.Errorf("want an integer, got %s", clipJSON(raw))
		}
		i, err := strconv.ParseInt(n.String(), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("want an integer, got %s", n)
		}
		return []string{strconv.FormatInt(i, 10)}, nil
	case kindFloat:
		var n json.Number
		if err := dec(&n); err != nil {
			return nil, fmt.Errorf("want a number, got %s", clipJSON(raw))
		}
		f, err := strconv.ParseFloat(n.String(), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("want a number, got %s", n)
		}
		return []string{strconv.FormatFloat(f, 'g', -1, 64)}, nil
	case kindStrings:
		var one string
		if err := dec(&one); err == nil {
			return []string{one}, nil
		}
		var many []string
		if err := dec(&many); err != nil || many == nil {
			return nil, fmt.Errorf("want a string or an array of strings, got %s", clipJSON(raw))
		}
		return many, nil
	}
	return nil, fmt.Errorf("unsupported value kind %d", kind)
}

func clipJSON(raw json.RawMessage) string {
	s := string(raw)
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(data []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	return line, int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
}

// applyConfigFile reads <data-dir>/config.json, if there is one, and sets
// each flag it names that neither the command line nor a WEB4P2P_*
// variable has set. A missing file is no error; a bad one is one line
// naming the file.
func applyConfigFile(c *cli.Context) error {
	path := filepath.Join(c.String("data-dir"), ConfigFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config file %s: %v", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return fmt.Errorf("config file %s: %v", path, err)
	}
	if len(data) > maxConfigBytes {
		return fmt.Errorf("config file %s: larger than %d bytes", path, maxConfigBytes)
	}
	settings, err := parseConfig(data, configKinds(c.Command.Flags))
	if err != nil {
		return fmt.Errorf("config file %s: %v", path, err)
	}
	for _, s := range settings {
		if setAnywhere(c, s.Key) {
			continue // flag or environment wins
		}
		for _, v := range s.Values {
			if err := c.Set(s.Key, v); err != nil {
				return fmt.Errorf("config file %s: key %q: %v", path, s.Key, err)
			}
		}
	}
	return nil
}

// setAnywhere reports whether the flag was given on the command line or
// through its environment variable, to this command or a parent.
func setAnywhere(c *cli.Context, name string) bool {
	for _, x := range c.Lineage() {
		if x.IsSet(name) {
			return true
		}
	}
	return false
}

// envName is the WEB4P2P_* variable standing for a flag: --data-dir is
// WEB4P2P_DATA_DIR.
func envName(flag string) string {
	return "WEB4P2P_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// withEnv gives every flag but --json and --help its WEB4P2P_* variable
// (first, before any older alias such as WEB4P2P_HOME). The flags are the
// App's own copies (freshFlags), so this writes no shared value. skip
// names flags left without one: start's own --log-level, so that
// WEB4P2P_LOG_LEVEL, read by the global flag, stays below a global
// --log-level given on the command line.
func withEnv(flags []cli.Flag, skip ...string) {
	for _, f := range flags {
		name := f.Names()[0]
		if name == "json" || name == "help" || slices.Contains(skip, name) {
			continue
		}
		v := reflectEnvVars(f)
		if !v.IsValid() {
			continue
		}
		cur := v.Interface().([]string)
		if !slices.Contains(cur, envName(name)) {
			v.Set(reflect.ValueOf(append([]string{envName(name)}, cur...)))
		}
	}
}

// reflectEnvVars returns the settable EnvVars field of a flag struct, or
// the zero Value if it has none.
func reflectEnvVars(f cli.Flag) reflect.Value {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}
	}
	e := v.Elem().FieldByName("EnvVars")
	if !e.IsValid() || !e.CanSet() || e.Type() != reflect.TypeOf([]string(nil)) {
		return reflect.Value{}
	}
	return e
}
