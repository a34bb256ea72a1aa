module github.com/otpknock/otpknock

go 1.26.8

require (
	github.com/google/go-cmp v0.7.0
	github.com/pquerna/otp v1.5.0
)

require (
	github.com/boombuler/barcode v1.0.1-0.20190219062509-6c824513bacc // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
)
