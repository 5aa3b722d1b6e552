// Package sink writes the files `broker agent` keeps a token in: the token
// alone, an env file, or a text/template of the user's.
//
// Every file is replaced atomically: the new contents go to a temporary
// file in the same directory, created with mode 0600 (and handed to the
// configured owner before it holds anything), which is synced and then
// renamed over the old one, and the directory is synced too. A reader
// therefore sees the old file or the new one, never a mix or a partial
// write, and a crash leaves one of the two.
package sink
