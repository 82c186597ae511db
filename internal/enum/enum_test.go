package enum

import "testing"

type color uint8

var colorNames = []string{"", "red", "green"}

func TestRoundTrip(t *testing.T) {
	if String(colorNames, color(2)) != "green" || String(colorNames, color(0)) != "invalid(0)" || String(colorNames, color(9)) != "invalid(9)" {
		t.Fatal("String")
	}
	b, err := Marshal(colorNames, color(1))
	if err != nil || string(b) != "red" {
		t.Fatal("Marshal")
	}
	if _, err := Marshal(colorNames, color(0)); err == nil {
		t.Fatal("Marshal accepted 0")
	}
	var c color
	if err := Unmarshal(colorNames, []byte("green"), &c); err != nil || c != 2 {
		t.Fatal("Unmarshal")
	}
	if err := Unmarshal(colorNames, []byte(""), &c); err == nil {
		t.Fatal("Unmarshal accepted the empty name")
	}
	if _, ok := Parse[color](colorNames, "blue"); ok {
		t.Fatal("Parse")
	}
}
