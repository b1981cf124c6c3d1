package cli

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"text/template"

	"github.com/spf13/cobra"
)

// pluginTemplates is the module `hub init plugin` writes: each file's path
// without .tmpl, plugin*.go named after the plugin, gitignore as .gitignore.
//
//go:embed templates/plugin
var pluginTemplates embed.FS

// pluginName is a plugin name that is also a Go package name.
var pluginName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// placeholderVersion is the hub's version in go.mod when this binary has
// none (a build from a work tree): --hub-replace supplies the code.
const placeholderVersion = "v0.0.0-00010101000000-000000000000"

func initCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Start a new project",
	}
	cmd.AddCommand(initPluginCommand())
	return cmd
}

func initPluginCommand() *cobra.Command {
	var module, dir, replace string
	cmd := &cobra.Command{
		Use:   "plugin NAME",
		Short: "Scaffold a Go module with a chat plugin, its test and a hub binary that serves it",
		Long: "Write a Go module in DIR (default ./NAME): NAME.go, a chat consumer registered\n" +
			"as NAME; NAME_test.go, which drives it with hubtest; cmd/hub/main.go, the hub with\n" +
			"the bundled plugins and this one; hub.yaml, which routes chats to it; a README.\n" +
			"NAME must be a Go package name (lower case letters, digits, _). Then:\n" +
			"  cd DIR && go mod tidy && go test ./... && go build -o hub ./cmd/hub && ./hub chat --consumer NAME",
		Example: "  hub init plugin greeter --module example.com/greeter\n" +
			"  hub init plugin greeter --hub-replace ../hub   # against a local hub checkout",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !pluginName.MatchString(name) {
				return fmt.Errorf("plugin name %q: want a Go package name (lower case letter, then letters, digits or _)", name)
			}
			if module == "" {
				module = "example.com/" + name
			}
			if strings.ContainsAny(module, " \t\n\"'`") || strings.HasPrefix(module, "/") || strings.HasSuffix(module, "/") {
				return fmt.Errorf("--module %q is not a module path", module)
			}
			if dir == "" {
				dir = name
			}
			data := pluginData{
				Name:       name,
				Type:       strings.ToUpper(name[:1]) + name[1:],
				Module:     module,
				GoVersion:  goVersion(),
				HubModule:  modulePath,
				HubVersion: version(),
			}
			if data.HubVersion == "dev" {
				data.HubVersion = placeholderVersion
			}
			if replace != "" {
				abs, err := filepath.Abs(replace)
				if err != nil {
					return err
				}
				if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
					return fmt.Errorf("--hub-replace %s: no go.mod there", replace)
				}
				data.HubReplace = filepath.ToSlash(abs)
				data.HubVersion = placeholderVersion
			}
			files, err := renderPlugin(data)
			if err != nil {
				return failed(err)
			}
			if err := writeNew(dir, files); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "plugin %s written to %s (module %s). Next:\n", name, dir, module)
			fmt.Fprintf(out, "  cd %s\n  go mod tidy\n  go test ./...\n  go build -o hub ./cmd/hub\n  ./hub chat --consumer %s\n", dir, name)
			return nil
		},
	}
	cmd.Flags().StringVar(&module, "module", "", "the module path (default example.com/NAME)")
	cmd.Flags().StringVar(&dir, "dir", "", "where to write the module (default ./NAME); it must not exist or be empty")
	cmd.Flags().StringVar(&replace, "hub-replace", "", "a local hub checkout to build against (adds a replace line to go.mod)")
	return cmd
}

type pluginData struct {
	Name, Type, Module, GoVersion     string
	HubModule, HubVersion, HubReplace string
}

// goVersion is the go directive of the new module: this toolchain's
// language version.
func goVersion() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	if m := regexp.MustCompile(`^1\.\d+`).FindString(v); m != "" {
		return m
	}
	return "1.26"
}

// renderPlugin executes every template: relative path → content.
func renderPlugin(data pluginData) (map[string][]byte, error) {
	const root = "templates/plugin"
	files := map[string][]byte{}
	err := fs.WalkDir(pluginTemplates, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := pluginTemplates.ReadFile(p)
		if err != nil {
			return err
		}
		t, err := template.New(p).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(p, root+"/"), ".tmpl")
		switch path.Base(rel) {
		case "plugin.go":
			rel = path.Join(path.Dir(rel), data.Name+".go")
		case "plugin_test.go":
			rel = path.Join(path.Dir(rel), data.Name+"_test.go")
		case "gitignore":
			rel = path.Join(path.Dir(rel), ".gitignore")
		}
		files[rel] = b.Bytes()
		return nil
	})
	return files, err
}

// writeNew writes files under dir, which must not exist or be empty, so
// nothing of the user's is overwritten.
func writeNew(dir string, files map[string][]byte) error {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0:
		return fmt.Errorf("%s is not empty: pick another --dir", dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return failed(err)
	}
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return failed(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			return failed(err)
		}
	}
	return nil
}
