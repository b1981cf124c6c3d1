package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// StateKey names one stored value: a consumer's namespace, a conversation
// (scope key) and a key.
type StateKey struct{ Namespace, Scope, Key string }

// StateStore is the persistence behind [State]; package store implements it
// with SQLite. Values are opaque bytes (State stores JSON).
type StateStore interface {
	GetState(ctx context.Context, k StateKey) (value []byte, ok bool, err error)
	// SetState stores a value; ttl 0 keeps it forever. It returns once the
	// value is durable.
	SetState(ctx context.Context, k StateKey, value []byte, ttl time.Duration) error
	DeleteState(ctx context.Context, k StateKey) error
	// AppendState appends to a list, keeping only the newest keep values
	// (0 keeps all); concurrent appends are atomic.
	AppendState(ctx context.Context, k StateKey, value []byte, keep int) error
	// ListState returns a list's values, oldest first.
	ListState(ctx context.Context, k StateKey) ([][]byte, error)
}

// ScopeTracker is implemented by stores that record when scopes open and
// close. The calls must not block.
type ScopeTracker interface {
	ScopeOpened(key, protocol string)
	ScopeClosed(key string)
}

// ErrNoStore is returned by State when the hub runs without a store.
var ErrNoStore = errors.New("core: no state store configured")

// State is one conversation's persistent key/value state, as seen by one
// consumer: values are JSON-encoded and namespaced by consumer, so two
// plugins in one chat never read each other's keys. It survives the scope
// and the hub process; a write is durable when its method returns.
type State struct {
	ctx   context.Context
	store StateStore
	ns    string
	scope string
}

// NewState returns the state of one conversation in one namespace. The
// runtime makes it; tests and adapters may too.
func NewState(ctx context.Context, store StateStore, namespace, scopeKey string) *State {
	return &State{ctx: ctx, store: store, ns: namespace, scope: scopeKey}
}

// Namespace returns the same conversation's state in another namespace. The
// config wiring gives every named consumer its own.
func (s *State) Namespace(ns string) *State {
	c := *s
	c.ns = ns
	return &c
}

// Of returns the state of another conversation in the same namespace, such
// as a room shared by many sockets: scope.State.Of("room:lobby").
func (s *State) Of(scopeKey string) *State {
	c := *s
	c.scope = scopeKey
	return &c
}

func (s *State) key(k string) StateKey { return StateKey{Namespace: s.ns, Scope: s.scope, Key: k} }

// Get decodes the value under key into v and reports whether it was there.
func (s *State) Get(key string, v any) (bool, error) {
	if s == nil || s.store == nil {
		return false, ErrNoStore
	}
	raw, ok, err := s.store.GetState(s.ctx, s.key(key))
	if err != nil || !ok {
		return false, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("core: state %q: %w", key, err)
	}
	return true, nil
}

// String returns the string under key, or def when it is missing or
// unreadable.
func (s *State) String(key, def string) string {
	var v string
	if ok, err := s.Get(key, &v); !ok || err != nil {
		return def
	}
	return v
}

// Set stores v under key until it is deleted.
func (s *State) Set(key string, v any) error { return s.SetTTL(key, v, 0) }

// SetTTL stores v under key for ttl (0: forever).
func (s *State) SetTTL(key string, v any, ttl time.Duration) error {
	if s == nil || s.store == nil {
		return ErrNoStore
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("core: state %q: %w", key, err)
	}
	return s.store.SetState(s.ctx, s.key(key), raw, ttl)
}

// Delete removes key.
func (s *State) Delete(key string) error {
	if s == nil || s.store == nil {
		return ErrNoStore
	}
	return s.store.DeleteState(s.ctx, s.key(key))
}

// Append adds v to the list under key, keeping the newest keep values
// (0: all). Appends from many instances at once lose nothing.
func (s *State) Append(key string, v any, keep int) error {
	if s == nil || s.store == nil {
		return ErrNoStore
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("core: state %q: %w", key, err)
	}
	return s.store.AppendState(s.ctx, s.key(key), raw, keep)
}

// List decodes the list under key, oldest first, into a pointer to a slice.
func (s *State) List(key string, into any) error {
	if s == nil || s.store == nil {
		return ErrNoStore
	}
	items, err := s.store.ListState(s.ctx, s.key(key))
	if err != nil {
		return err
	}
	raw := append([]byte{'['}, bytes.Join(items, []byte{','})...)
	if err := json.Unmarshal(append(raw, ']'), into); err != nil {
		return fmt.Errorf("core: state list %q: %w", key, err)
	}
	return nil
}
