module vodfc.dev/bench/transcode

go 1.26.0

require (
	vodfc.dev/local v0.0.0
	vodfc.dev/vodfc v0.0.0
)

require (
	github.com/aliyun/aliyun-oss-go-sdk v3.0.2+incompatible // indirect
	github.com/aliyun/aliyun-tablestore-go-sdk v4.1.3+incompatible // indirect
	github.com/aliyun/fc-runtime-go-sdk v0.3.1 // indirect
	github.com/aws/aws-lambda-go v1.55.1 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	golang.org/x/time v0.16.0 // indirect
	google.golang.org/protobuf v1.33.0 // indirect
)

replace (
	vodfc.dev/local => ../../local
	vodfc.dev/vodfc => ../../shared
)
