module vodfc.dev/bench/transcode

go 1.26.0

require vodfc.dev/vodfc v0.0.0

replace vodfc.dev/vodfc => ../../shared
