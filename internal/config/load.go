package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"

	"sigs.k8s.io/yaml"
)

// maxFileBytes bounds the config file and each secret file, so a path
// pointed at the wrong thing (a device, a log) fails instead of hanging.
const maxFileBytes = 1 << 20

// Options change how a config is loaded. The zero value reads the real
// environment and file system.
type Options struct {
	// LookupEnv defaults to os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// ReadFile defaults to reading at most 1 MiB with the os package.
	ReadFile func(string) ([]byte, error)
	// SkipSecrets checks that each secret is configured but does not read
	// it, for tools such as the policy dry-run that run where the
	// broker's secrets are not available. Secret fields stay unset and
	// API keys given by key_env have no Hash.
	SkipSecrets bool
	// NoDatabase accepts a config without a database section, for callers
	// that hand the server a store of their own (broker dev's in-memory
	// one).
	NoDatabase bool
	// Checks run after the package's own validation, on the defaulted
	// config, and add their problems to the same list.
	Checks []Check
	// Stat defaults to os.Stat; it reads secret files' modes for
	// Warnings.
	Stat func(string) (fs.FileInfo, error)
}

func (o Options) complete() Options {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.ReadFile == nil {
		o.ReadFile = readLimited
	}
	if o.Stat == nil {
		o.Stat = defaultStat
	}
	return o
}

// Load reads and parses the file at path.
func Load(path string) (*Config, error) { return LoadWith(path, Options{}) }

// LoadWith is Load with options.
func LoadWith(path string, o Options) (*Config, error) {
	o = o.complete()
	data, err := o.ReadFile(path)
	if err != nil {
		return nil, &FieldError{File: path, Msg: err.Error()}
	}
	return ParseWith(path, data, o)
}

// Parse parses a config document; name is used in errors and to resolve
// relative file paths.
func Parse(name string, data []byte) (*Config, error) { return ParseWith(name, data, Options{}) }

// ParseWith is Parse with options. The error joins one *FieldError per
// problem found.
func ParseWith(name string, data []byte, o Options) (*Config, error) {
	o = o.complete()
	fe := &fieldErrors{file: name}
	tree, err := yamlTree(data)
	if err != nil {
		fe.add("", "%v", err)
		return nil, fe.err()
	}
	c := &Config{Source: name}
	dec := &decoder{errs: fe}
	dec.decode("", tree, reflect.ValueOf(c).Elem())
	if len(fe.list) > 0 {
		// Validating a half-decoded file would pile "required" errors on
		// top of the type errors that caused them.
		return nil, fe.err()
	}
	c.applyDefaults()
	v := &validator{c: c, fe: fe, o: o, name: name}
	v.run()
	for _, check := range o.Checks {
		check(c, fe.add)
	}
	if len(fe.list) > 0 {
		return nil, fe.err()
	}
	// A deprecated form is a warning too: the file works, and should be
	// written another way.
	c.warnings = append(c.warnings, dec.notices...)
	v.warnings()
	return c, nil
}

// yamlTree turns YAML into the generic JSON tree, rejecting duplicate keys
// (a second "max_ttl" silently winning is exactly the mistake strictness
// is for).
func yamlTree(data []byte) (any, error) {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	return tree, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFileBytes)
	}
	return data, nil
}
