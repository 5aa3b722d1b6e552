package deploytest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"
)

// podView is what one container sees, resolved through the rendered
// ConfigMaps and Secrets: its environment and its files. Secrets the
// chart does not render (kept outside Helm in production) are stood in
// for by made-up values, one per key the pod references.
type podView struct {
	pod        podSpec
	c          container
	configMaps map[string]map[string]string
	secrets    map[string]map[string]string
}

func newPodView(t *testing.T, objs rendered, pod podSpec, c container) podView {
	t.Helper()
	v := podView{pod: pod, c: c, configMaps: map[string]map[string]string{}, secrets: map[string]map[string]string{}}
	for _, o := range objs.ofKind("ConfigMap") {
		v.configMaps[o.Metadata.Name] = o.Data
	}
	rendered := map[string]bool{}
	for _, o := range objs.ofKind("Secret") {
		v.secrets[o.Metadata.Name] = o.StringData
		rendered[o.Metadata.Name] = true
	}
	standIn := func(name, key string) {
		if rendered[name] {
			return
		}
		if v.secrets[name] == nil {
			v.secrets[name] = map[string]string{}
		}
		if _, ok := v.secrets[name][key]; !ok {
			v.secrets[name][key] = fakeSecret(key)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			standIn(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
		}
	}
	for _, vol := range pod.Volumes {
		if vol.Secret != nil {
			for _, it := range vol.Secret.Items {
				standIn(vol.Secret.SecretName, it.Key)
			}
		}
	}
	return v
}

// fakeSecret makes a value of the shape the broker checks: the seal key
// is 32 bytes of base64, the database URL carries a password.
func fakeSecret(key string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	switch {
	case strings.Contains(key, "seal"):
		return base64.StdEncoding.EncodeToString(b)
	case strings.Contains(key, "database"):
		return "postgres://ztbroker:" + hex.EncodeToString(b[:12]) + "@postgres:5432/ztbroker?sslmode=require"
	}
	return "zt-" + hex.EncodeToString(b)
}

// secretValues are every secret value the pods can see.
func (v podView) secretValues() []string {
	var out []string
	for _, kv := range v.secrets {
		for _, val := range kv {
			out = append(out, val)
		}
	}
	return out
}

func (v podView) lookupEnv(name string) (string, bool) {
	for _, e := range v.c.Env {
		if e.Name != name {
			continue
		}
		if e.ValueFrom == nil {
			return e.Value, true
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil {
			val, ok := v.secrets[r.Name][r.Key]
			return val, ok
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
			val, ok := v.configMaps[r.Name][r.Key]
			return val, ok
		}
		return "", false
	}
	return "", false
}

// readFile reads name as the container would: through the volume mounted
// at the nearest enclosing mountPath.
func (v podView) readFile(name string) ([]byte, error) {
	name = path.Clean(name)
	var best *volumeMount
	for i, m := range v.c.VolumeMounts {
		if m.SubPath == "" && strings.HasPrefix(name, strings.TrimSuffix(m.MountPath, "/")+"/") {
			if best == nil || len(m.MountPath) > len(best.MountPath) {
				best = &v.c.VolumeMounts[i]
			}
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%s: no volume is mounted there: %w", name, fs.ErrNotExist)
	}
	rel := strings.TrimPrefix(name, strings.TrimSuffix(best.MountPath, "/")+"/")
	for _, vol := range v.pod.Volumes {
		if vol.Name != best.Name {
			continue
		}
		switch {
		case vol.Secret != nil:
			return lookup(name, rel, vol.Secret.Items, v.secrets[vol.Secret.SecretName])
		case vol.ConfigMap != nil:
			data, ok := v.configMaps[vol.ConfigMap.Name]
			if !ok {
				if vol.ConfigMap.Items != nil && !slices.ContainsFunc(vol.ConfigMap.Items, func(it keyToPath) bool { return it.Path == rel }) {
					return nil, fmt.Errorf("%s: %w", name, errNoItem)
				}
				return nil, fmt.Errorf("%s: %w (ConfigMap %s)", name, errExternal, vol.ConfigMap.Name)
			}
			return lookup(name, rel, vol.ConfigMap.Items, data)
		}
		return nil, fmt.Errorf("%s: volume %s is neither a Secret nor a ConfigMap", name, vol.Name)
	}
	return nil, fmt.Errorf("%s: mount %s names no volume of the pod", name, best.Name)
}

// errExternal is a file on a ConfigMap the chart does not make (the
// cluster's kube-root-ca.crt): mounted, but its content is not known here.
var errExternal = errors.New("mounted from a ConfigMap outside the chart")

var errNoItem = fmt.Errorf("not in the mounted volume: %w", fs.ErrNotExist)

// lookup finds the file rel of a Secret or ConfigMap volume: with items
// only those keys appear, at their paths; without, every key does.
func lookup(name, rel string, items []keyToPath, data map[string]string) ([]byte, error) {
	key := rel
	if items != nil {
		key = ""
		for _, it := range items {
			if it.Path == rel {
				key = it.Key
			}
		}
	}
	val, ok := data[key]
	if key == "" || !ok {
		return nil, fmt.Errorf("%s: %w", name, errNoItem)
	}
	return []byte(val), nil
}

// mounted reports whether the container would find a file at name.
func (v podView) mounted(name string) error {
	if _, err := v.readFile(name); err != nil && !errors.Is(err, errExternal) {
		return err
	}
	return nil
}

// configPath is the --config argument of the container.
func configPath(t *testing.T, c container) string {
	t.Helper()
	for i, a := range c.Args {
		if a == "--config" && i+1 < len(c.Args) {
			return c.Args[i+1]
		}
		if p, ok := strings.CutPrefix(a, "--config="); ok {
			return p
		}
	}
	t.Fatalf("container %s: no --config in %q", c.Name, c.Args)
	return ""
}
