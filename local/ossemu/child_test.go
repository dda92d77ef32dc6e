package ossemu_test

const childEnv = "OSSEMU_TEST_CHILD"

func runChild() {}
