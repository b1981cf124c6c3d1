package layertest_test

import (
	"testing"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/layer/layertest"
)

func TestMemory(t *testing.T) {
	layertest.Run(t, func(t *testing.T) layer.Layer { return layer.NewMemory(layertest.Options) })
}
