package dialog

import (
	"encoding/json"
	"fmt"
)

// EncodeSession serialises a session for a store.
func EncodeSession(s *Session) ([]byte, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode session: %w", err)
	}
	return data, nil
}

// DecodeSession reads a session written by EncodeSession.
func DecodeSession(data []byte) (*Session, error) {
	var s Session
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	return &s, nil
}
