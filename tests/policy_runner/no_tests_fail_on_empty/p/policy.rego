package p
import rego.v1
deny contains "x" if input.bad
