module vodfc.dev/functions

go 1.26.0

require (
	vodfc.dev/local v0.0.0
	vodfc.dev/vodfc v0.0.0
)

replace (
	vodfc.dev/local => ../local
	vodfc.dev/vodfc => ../shared
)
