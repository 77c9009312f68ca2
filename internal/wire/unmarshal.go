package wire

import "fmt"

// Unmarshal decodes msgpack data into v with the care Decode takes of
// messages: data whose lengths run past its end is refused before decoding,
// and a panic of the decoder (it panics on nil for a time.Time field) is an
// error. It is for fabric's msgpack values that are not messages (task
// records); errors wrap ErrMalformed.
func Unmarshal(data []byte, v any) error {
	if err := unmarshalMsgpack(data, v); err != nil {
		return fmt.Errorf("%w: not valid msgpack: %v", ErrMalformed, err)
	}
	return nil
}
