package events

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaJSON is the JSON Schema of the event contract v1.0.
//
//go:embed schema/event-v1.0.json
var SchemaJSON []byte

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

func compiled() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaJSON))
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource("event-v1.0.json", doc); err != nil {
			schemaErr = err
			return
		}
		schema, schemaErr = c.Compile("event-v1.0.json")
	})
	return schema, schemaErr
}

// Validate checks one encoded event against the contract schema.
func Validate(raw []byte) error {
	s, err := compiled()
	if err != nil {
		return fmt.Errorf("event schema: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("event: not JSON: %w", err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	return nil
}

// ValidateEvent marshals e and validates it.
func ValidateEvent(e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return Validate(b)
}

// CheckingSink validates every event it sees and records the failures; tests
// put it in front of their ring so that every emitted event is checked
// against the shipped schema (SPEC §11).
type CheckingSink struct {
	mu       sync.Mutex
	Next     Sink
	failures []string
}

// Emit implements Sink.
func (c *CheckingSink) Emit(e Event) {
	if err := ValidateEvent(e); err != nil {
		c.mu.Lock()
		c.failures = append(c.failures, fmt.Sprintf("%s: %v", e.Type, err))
		c.mu.Unlock()
	}
	if c.Next != nil {
		c.Next.Emit(e)
	}
}

// Failures returns the validation failures seen so far.
func (c *CheckingSink) Failures() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.failures...)
}
