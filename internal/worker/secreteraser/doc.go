// Package secreteraser deletes sealed secrets once their replay window
// has passed or their lease has ended. Reads already refuse an expired
// secret; erasing it as well means a later key compromise cannot open
// ciphertext that should no longer exist.
package secreteraser
