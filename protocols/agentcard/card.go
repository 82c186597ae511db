package agentcard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ProtocolVersion is the A2A protocol version the cards of this package
// describe.
const ProtocolVersion = "1.0"

// Standard protocol bindings (A2A §5); a custom binding is any other URI.
const (
	BindingJSONRPC  = "JSONRPC"
	BindingGRPC     = "GRPC"
	BindingHTTPJSON = "HTTP+JSON"
)

// WellKnownPath is where an agent serves its public card (A2A §8.2).
const WellKnownPath = "/.well-known/agent-card.json"

// Card is an A2A v1.0 AgentCard. Field names and JSON members follow the
// specification; optional members are omitted when empty so the canonical
// form of a card has no noise a verifier must reproduce.
type Card struct {
	Name                 string                    `json:"name"`
	Description          string                    `json:"description"`
	SupportedInterfaces  []Interface               `json:"supportedInterfaces"`
	Provider             *Provider                 `json:"provider,omitempty"`
	Version              string                    `json:"version"`
	DocumentationURL     string                    `json:"documentationUrl,omitempty"`
	Capabilities         Capabilities              `json:"capabilities"`
	SecuritySchemes      map[string]SecurityScheme `json:"securitySchemes,omitempty"`
	SecurityRequirements []SecurityRequirement     `json:"securityRequirements,omitempty"`
	DefaultInputModes    []string                  `json:"defaultInputModes"`
	DefaultOutputModes   []string                  `json:"defaultOutputModes"`
	Skills               []Skill                   `json:"skills"`
	Signatures           []Signature               `json:"signatures,omitempty"`
	IconURL              string                    `json:"iconUrl,omitempty"`

	// URL, ProtocolVersion and PreferredTransport are the A2A v0.3 members
	// v1.0 replaced with SupportedInterfaces. They are optional; a card
	// that sets them stays readable by v0.3 clients (the first interface
	// should then repeat URL).
	URL                string `json:"url,omitempty"`
	ProtocolVersion    string `json:"protocolVersion,omitempty"`
	PreferredTransport string `json:"preferredTransport,omitempty"`
}

// Interface is one (URL, protocol binding) an agent answers on.
type Interface struct {
	URL             string `json:"url"`
	ProtocolBinding string `json:"protocolBinding"`
	ProtocolVersion string `json:"protocolVersion,omitempty"`
	Tenant          string `json:"tenant,omitempty"`
	// Transport is the v0.3 name of ProtocolBinding, kept for v0.3 readers.
	Transport string `json:"transport,omitempty"`
}

// Provider is the organisation that runs the agent.
type Provider struct {
	Organization string `json:"organization"`
	URL          string `json:"url"`
}

// Capabilities are the optional features the agent supports.
type Capabilities struct {
	Streaming              bool        `json:"streaming,omitempty"`
	PushNotifications      bool        `json:"pushNotifications,omitempty"`
	StateTransitionHistory bool        `json:"stateTransitionHistory,omitempty"`
	ExtendedAgentCard      bool        `json:"extendedAgentCard,omitempty"`
	Extensions             []Extension `json:"extensions,omitempty"`
}

// Extension declares a protocol extension by URI.
type Extension struct {
	URI         string         `json:"uri"`
	Description string         `json:"description,omitempty"`
	Required    bool           `json:"required,omitempty"`
	Params      map[string]any `json:"params,omitempty"`
}

// SecurityScheme is an OpenAPI-style security scheme. Only the members the
// node uses are typed (HTTP bearer, API key); the rest are not refused, they
// simply do not survive a Decode-then-Marshal round trip — Verify never
// re-marshals, so signatures over them still verify.
type SecurityScheme struct {
	HTTPAuth *HTTPAuthScheme `json:"httpAuthSecurityScheme,omitempty"`
	APIKey   *APIKeyScheme   `json:"apiKeySecurityScheme,omitempty"`
	// Type, Scheme, BearerFormat, In and Name are the v0.3 (OpenAPI)
	// flattened spelling, kept for v0.3 readers.
	Type         string `json:"type,omitempty"`
	Scheme       string `json:"scheme,omitempty"`
	BearerFormat string `json:"bearerFormat,omitempty"`
	Description  string `json:"description,omitempty"`
	In           string `json:"in,omitempty"`
	Name         string `json:"name,omitempty"`
}

// HTTPAuthScheme is an HTTP authentication scheme (e.g. Bearer).
type HTTPAuthScheme struct {
	Scheme       string `json:"scheme"`
	BearerFormat string `json:"bearerFormat,omitempty"`
	Description  string `json:"description,omitempty"`
}

// APIKeyScheme is an API key in a header, query or cookie.
type APIKeyScheme struct {
	Location    string `json:"location"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// SecurityRequirement names the schemes (and scopes) a request must satisfy.
type SecurityRequirement struct {
	Schemes map[string]StringList `json:"schemes"`
}

// StringList is a list of strings (scopes).
type StringList struct {
	List []string `json:"list"`
}

// Skill is one thing the agent can do.
type Skill struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
	Examples    []string `json:"examples,omitempty"`
	InputModes  []string `json:"inputModes,omitempty"`
	OutputModes []string `json:"outputModes,omitempty"`
}

// Signature is one JWS signature over the card (A2A §8.4): Protected is the
// base64url protected header, Signature the base64url signature; the
// payload is detached (it is the card's canonical form).
type Signature struct {
	Protected string         `json:"protected"`
	Signature string         `json:"signature"`
	Header    map[string]any `json:"header,omitempty"`
}

// ErrInvalid is wrapped by every error Decode returns for a card that is
// not well formed; the message names the field.
var ErrInvalid = errors.New("agentcard: invalid card")

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
}

// Decode parses raw as a card, strictly: one JSON object of at most
// MaxCardBytes, the required members present, the lists bounded. Unknown
// members are ignored (A2A cards are extensible), not refused. Decode does
// not verify signatures; Verify does.
func Decode(raw []byte) (Card, error) {
	var c Card
	if len(raw) > MaxCardBytes {
		return c, invalid("card", "%d bytes, more than the %d allowed", len(raw), MaxCardBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&c); err != nil {
		return Card{}, invalid("card", "not a JSON card object: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Card{}, invalid("card", "trailing data after the card object")
	}
	if err := c.Validate(); err != nil {
		return Card{}, err
	}
	return c, nil
}

// Validate checks the members A2A requires and the package's bounds.
func (c Card) Validate() error {
	if strings.TrimSpace(c.Name) == "" {
		return invalid("name", "required")
	}
	if c.Version == "" {
		return invalid("version", "required")
	}
	if len(c.SupportedInterfaces) == 0 && c.URL == "" {
		return invalid("supportedInterfaces", "at least one interface is required")
	}
	if len(c.SupportedInterfaces) > MaxInterfaces {
		return invalid("supportedInterfaces", "%d entries, at most %d", len(c.SupportedInterfaces), MaxInterfaces)
	}
	for i, in := range c.SupportedInterfaces {
		if in.URL == "" {
			return invalid(fmt.Sprintf("supportedInterfaces[%d].url", i), "required")
		}
		if in.ProtocolBinding == "" && in.Transport == "" {
			return invalid(fmt.Sprintf("supportedInterfaces[%d].protocolBinding", i), "required")
		}
	}
	if len(c.Skills) > MaxSkills {
		return invalid("skills", "%d entries, at most %d", len(c.Skills), MaxSkills)
	}
	for i, s := range c.Skills {
		if s.ID == "" {
			return invalid(fmt.Sprintf("skills[%d].id", i), "required")
		}
		if s.Name == "" {
			return invalid(fmt.Sprintf("skills[%d].name", i), "required")
		}
	}
	if len(c.Signatures) > MaxSignatures {
		return invalid("signatures", "%d entries, at most %d", len(c.Signatures), MaxSignatures)
	}
	for i, s := range c.Signatures {
		if s.Protected == "" {
			return invalid(fmt.Sprintf("signatures[%d].protected", i), "required")
		}
		if s.Signature == "" {
			return invalid(fmt.Sprintf("signatures[%d].signature", i), "required")
		}
	}
	return nil
}

// Interface returns the first interface with the given binding.
func (c Card) Interface(binding string) (Interface, bool) {
	for _, in := range c.SupportedInterfaces {
		if in.ProtocolBinding == binding || (in.ProtocolBinding == "" && in.Transport == binding) {
			return in, true
		}
	}
	return Interface{}, false
}
