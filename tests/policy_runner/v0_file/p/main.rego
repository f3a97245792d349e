package main

deny[msg] {
  input.kind == "Pod"
  msg := "no pods"
}
