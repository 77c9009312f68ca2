package inventory

import (
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/fabric-run/fabric/subjects"
)

// Limits caps, per capability, how many tasks needing it this machine's
// node runs at once:
//
//	limits: {docker: 1, gpu: 1}
type Limits map[string]int

// UnmarshalYAML implements yaml.Unmarshaler: capability names are
// normalised tokens and every cap is a whole number of at least 1; errors
// carry the line of the offending entry.
func (l *Limits) UnmarshalYAML(value *yaml.Node) error {
	value = deref(value)
	if value.Tag == "!!null" {
		*l = nil
		return nil
	}
	if value.Kind != yaml.MappingNode {
		return errorAt(value.Line, "limits: want a mapping like {docker: 1}, got %s", kindName(value))
	}
	out := Limits{}
	for i := 0; i+1 < len(value.Content); i += 2 {
		k, v := value.Content[i], deref(value.Content[i+1])
		c, err := subjects.NormalizeCapability(k.Value)
		if err != nil {
			return errorAt(k.Line, "limits: capability %q is not a valid token", k.Value)
		}
		if _, dup := out[c]; dup {
			return errorAt(k.Line, "limits: %s appears twice", c)
		}
		n, err := strconv.Atoi(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil || n < 1 {
			return errorAt(v.Line, "limits: %s: want a whole number of at least 1, got %q", c, v.Value)
		}
		out[c] = n
	}
	*l = out
	return nil
}
