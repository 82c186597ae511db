package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/node"
)

// startConfigOf runs `start` with args, but resolves its settings only (no
// node starts), and returns them.
func startConfigOf(t *testing.T, args ...string) (node.Config, error) {
	t.Helper()
	app := newApp()
	var cfg node.Config
	for _, c := range app.Commands {
		if c.Name == "start" {
			c.Action = func(c *cli.Context) error {
				var err error
				cfg, err = startConfig(c)
				return err
			}
		}
	}
	err := execute(context.Background(), app, append([]string{"web4p2p", "start"}, args...))
	return cfg, err
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, ConfigFile)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// flag > WEB4P2P_* > <data-dir>/config.json > default, key by key.
func TestStartSettingsPrecedence(t *testing.T) {
	defer func() { _ = node.SetLogLevel("fatal") }()
	dir := t.TempDir()
	writeConfig(t, dir, `{
		"agent-id": "from-file",
		"api": "127.0.0.1:7001",
		"listen": ["/ip4/127.0.0.1/tcp/7101", "/ip4/127.0.0.1/udp/7101/quic-v1"],
		"mdns": true,
		"events-file-keep": 5,
		"events-file-max-mb": 0.5,
		"log-level": "warn",
		"mission": "work"
	}`)
	// The file alone, over the defaults.
	cfg, err := startConfigOf(t, "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AgentID != "from-file" || cfg.APIAddr != "127.0.0.1:7001" || strings.Join(cfg.ListenAddrs, " ") != "/ip4/127.0.0.1/tcp/7101 /ip4/127.0.0.1/udp/7101/quic-v1" ||
		!cfg.MDNS || cfg.EventsFileKeep != 5 || cfg.EventsFileMaxBytes != 512<<10 || strings.Join(cfg.Human.Loop.Mission, ",") != "work" {
		t.Fatalf("from the file: %+v", cfg)
	}
	if node.OwnLogEnabled("info") || !node.OwnLogEnabled("warn") {
		t.Fatal("log-level from the file not applied")
	}
	// Unset keys keep their defaults.
	if cfg.MDNSService != "web4p2p" || cfg.EventsFile != "" {
		t.Fatalf("defaults: %+v", cfg)
	}
	// The environment over the file.
	t.Setenv("WEB4P2P_AGENT_ID", "from-env")
	t.Setenv("WEB4P2P_LISTEN", "/ip4/127.0.0.1/tcp/7201")
	t.Setenv("WEB4P2P_API", "127.0.0.1:7002")
	t.Setenv("WEB4P2P_LOG_LEVEL", "error")
	cfg, err = startConfigOf(t, "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AgentID != "from-env" || cfg.APIAddr != "127.0.0.1:7002" || strings.Join(cfg.ListenAddrs, " ") != "/ip4/127.0.0.1/tcp/7201" || cfg.EventsFileKeep != 5 {
		t.Fatalf("env over the file: %+v", cfg)
	}
	if node.OwnLogEnabled("warn") {
		t.Fatal("WEB4P2P_LOG_LEVEL did not override the file")
	}
	// Flags over both; the global --log-level too.
	cfg, err = startConfigOf(t, "--data-dir", dir, "--agent-id", "from-flag", "--listen", "/ip4/127.0.0.1/tcp/7301", "--events-file-keep", "2")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AgentID != "from-flag" || strings.Join(cfg.ListenAddrs, " ") != "/ip4/127.0.0.1/tcp/7301" || cfg.APIAddr != "127.0.0.1:7002" || cfg.EventsFileKeep != 2 {
		t.Fatalf("flags over env and file: %+v", cfg)
	}
	app := newApp()
	for _, c := range app.Commands {
		if c.Name == "start" {
			c.Action = func(c *cli.Context) error { _, err := startConfig(c); return err }
		}
	}
	if err := execute(context.Background(), app, []string{"web4p2p", "--log-level", "debug", "start", "--data-dir", dir}); err != nil {
		t.Fatal(err)
	}
	if !node.OwnLogEnabled("debug") {
		t.Fatal("global --log-level lost to the env or the file")
	}
	// The data dir from WEB4P2P_DATA_DIR.
	t.Setenv("WEB4P2P_DATA_DIR", dir)
	if cfg, err = startConfigOf(t); err != nil || cfg.DataDir != dir {
		t.Fatalf("WEB4P2P_DATA_DIR: %q %v", cfg.DataDir, err)
	}
}

// A malformed config file is one line naming the file and the key or the
// place, and why.
func TestStartMalformedConfigFile(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"listen": ["/ip4/127.0.0.1/tcp/1"], "colour": "red"}`, `key "colour": unknown`},
		{`{"mdns": "yes"}`, `key "mdns": want true or false, got "yes"`},
		{`{"events-file-keep": 2.5}`, `key "events-file-keep": want an integer, got 2.5`},
		{`{"listen": [1]}`, `key "listen": want a string or an array of strings, got [1]`},
		{`{"api": "a", "api": "b"}`, `key "api": given twice`},
		{`{"data-dir": "/x"}`, `key "data-dir": unknown`},
		{"{\n  \"api\": \"127.0.0.1:0\",\n  \"mdns\" true\n}", "line 3, column 10"},
		{`{"api": "x"} {}`, "data after the JSON object"},
		{`["api"]`, "want a JSON object"},
		{``, "empty file"},
	} {
		dir := t.TempDir()
		p := writeConfig(t, dir, c.body)
		_, err := startConfigOf(t, "--data-dir", dir)
		if err == nil || !strings.HasPrefix(err.Error(), "config file "+p+": ") || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got %v, want one line with %q", c.body, err, c.want)
		}
	}
}

// FuzzConfigFile: the parser never panics, and what it accepts it accepts
// again written back as JSON, with the same settings.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		`{"listen": ["/ip4/127.0.0.1/tcp/4001"], "api": "127.0.0.1:0", "mdns": true, "events-file-keep": 3, "events-file-max-mb": 1.5}`,
		`{"mission": "work"}`, `{}`, `{"a": 1}`, `{"mdns": tru`, "\xff", `{"listen": [] }`,
	} {
		f.Add([]byte(s))
	}
	kinds := configKinds(startCommand().Flags)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseConfig(data, kinds)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		// Written back with every value as an array of its flag values
		// (strings for repeatable flags, else the one value in its JSON
		// shape), the file must mean the same.
		var b strings.Builder
		b.WriteString("{")
		for i, st := range got {
			if i > 0 {
				b.WriteString(",")
			}
			k, _ := json.Marshal(st.Key)
			var v []byte
			switch kinds[st.Key] {
			case kindStrings:
				v, _ = json.Marshal(st.Values)
			case kindString:
				v, _ = json.Marshal(st.Values[0])
			default: // bool, int, float: their text is JSON
				v = []byte(st.Values[0])
			}
			b.Write(k)
			b.WriteString(":")
			b.Write(v)
		}
		b.WriteString("}")
		again, err := parseConfig([]byte(b.String()), kinds)
		if err != nil {
			t.Fatalf("%q accepted, written back as %s refused: %v", data, b.String(), err)
		}
		if len(again) != len(got) {
			t.Fatalf("settings changed: %v → %v", got, again)
		}
		for i := range got {
			if got[i].Key != again[i].Key || strings.Join(got[i].Values, "\x00") != strings.Join(again[i].Values, "\x00") {
				t.Fatalf("settings changed: %v → %v", got, again)
			}
		}
	})
}

// --capability is a list like --mission: comma-separated or repeated, from
// the file, WEB4P2P_CAPABILITY or flags (which win).
func TestStartCapabilities(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, `{"capability": ["translate", "summarize"]}`)
	cfg, err := startConfigOf(t, "--data-dir", dir)
	if err != nil || strings.Join(cfg.Capabilities, ",") != "translate,summarize" {
		t.Fatalf("from the file: %v %v", cfg.Capabilities, err)
	}
	t.Setenv("WEB4P2P_CAPABILITY", "ocr, translate/de-en")
	if cfg, err = startConfigOf(t, "--data-dir", dir); err != nil || strings.Join(cfg.Capabilities, ",") != "ocr,translate/de-en" {
		t.Fatalf("from the env: %v %v", cfg.Capabilities, err)
	}
	cfg, err = startConfigOf(t, "--data-dir", dir, "--capability", "a,b", "--capability", "a", "--capability", "c")
	if err != nil || strings.Join(cfg.Capabilities, ",") != "a,b,c" {
		t.Fatalf("from flags: %v %v", cfg.Capabilities, err)
	}
}
