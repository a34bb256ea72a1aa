// Package yamlerr turns the YAML decoder's errors about the server
// config and the client's profiles into one line in the file's own
// terms: the line, the field's path, what is wrong.
package yamlerr
