package main

test_deny {
  deny["no pods"] with input as {"kind": "Pod"}
}
