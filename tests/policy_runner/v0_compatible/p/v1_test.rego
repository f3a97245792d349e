package v

test_x if true
