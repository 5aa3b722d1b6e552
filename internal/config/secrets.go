package config

import "bytes"

// env reads a secret from the environment variable named at path.
func (v *validator) env(path, name string) Secret {
	if v.o.SkipSecrets {
		return Secret{}
	}
	val, ok := v.o.LookupEnv(name)
	switch {
	case !ok:
		v.add(path, "environment variable %s is not set", name)
	case val == "":
		v.add(path, "environment variable %s is empty", name)
	}
	return NewSecret([]byte(val))
}

// secret reads a secret configured by exactly one of <base>_env and
// <base>_file, returning the path of the field that supplied it (for
// later errors about the value) and the value.
func (v *validator) secret(base, envName string, file *string) (string, Secret) {
	envPath, filePath := base+"_env", base+"_file"
	switch {
	case envName != "" && *file != "":
		v.add(base+"_env", "set %s or %s, not both", lastElem(envPath), lastElem(filePath))
		return envPath, Secret{}
	case envName != "":
		return envPath, v.env(envPath, envName)
	case *file != "":
		v.resolvePath(file)
		return filePath, v.file(filePath, *file)
	}
	v.add(envPath, "is required (or %s)", lastElem(filePath))
	return envPath, Secret{}
}

// file reads a secret file. Surrounding whitespace is dropped, since
// editors and `echo` leave a trailing newline that is never part of a key.
func (v *validator) file(path, name string) Secret {
	if v.o.SkipSecrets {
		return Secret{}
	}
	data, err := v.o.ReadFile(name)
	if err != nil {
		// os errors name the file and the failure, never its contents.
		v.add(path, "%v", err)
		return Secret{}
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		v.add(path, "file %s is empty", name)
		return Secret{}
	}
	return NewSecret(data)
}

func lastElem(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '.' {
			return path[i+1:]
		}
	}
	return path
}
