package redis

import (
	"context"
	"testing"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/layer/layertest"
)

func newTestLayer(t *testing.T, o Options) *Layer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	l, err := New(ctx, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

func TestConformance(t *testing.T) {
	s := startServer(t)
	layertest.Run(t, func(t *testing.T) layer.Layer {
		return newTestLayer(t, Options{Hosts: []string{s.url()}, Layer: layertest.Options})
	})
}

func TestConformanceEncrypted(t *testing.T) {
	s := startServer(t)
	layertest.Run(t, func(t *testing.T) layer.Layer {
		return newTestLayer(t, Options{Hosts: []string{s.url()}, Layer: layertest.Options,
			SymmetricEncryptionKeys: []string{"new key", "old key"}})
	})
}

func TestConformanceSharded(t *testing.T) {
	a, b := startServer(t), startServer(t)
	layertest.Run(t, func(t *testing.T) layer.Layer {
		return newTestLayer(t, Options{Hosts: []string{a.url(), b.url()}, Layer: layertest.Options})
	})
}
