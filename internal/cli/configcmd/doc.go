// Package configcmd is "broker config": init writes a commented starting
// configuration (and, on request, a fresh seal key and API key), check
// validates a file the way serve loads it and prints the effective
// configuration, secrets redacted and every default filled in.
package configcmd
