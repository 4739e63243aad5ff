module github.com/waypost/waypost

go 1.26.8

require (
	github.com/emersion/go-smtp v0.25.1
	github.com/pelletier/go-toml/v2 v2.4.3
	golang.org/x/crypto v0.59.0
)

require github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6

require golang.org/x/net v0.62.0
