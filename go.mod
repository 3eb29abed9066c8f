module github.com/cleanroomsd/cleanroomsd

go 1.26

require github.com/dlclark/regexp2 v1.12.0

require github.com/aws/aws-sdk-go-v2 v1.47.7 // indirect
