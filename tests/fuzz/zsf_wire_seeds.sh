# Seeds for fuzz_zsf_wire (first byte: 0 CONNECT, 1 RESOLVE, 2 RESOLVE's reply, 3 allow-list
# text): a valid request of each kind, a reply of two addresses, rules of every form.
set -eu
d=$1
printf '\x00\x01\x04\x00\x50\x0a\x01\x02\x03\0\0\0\0\0\0\0\0\0\0\0\0' >"$d/connect4"
printf '\x00\x01\x06\x01\xbb\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01' >"$d/connect6"
printf '\x01\x01\x00example.org' >"$d/resolve"
{ printf '\x02\x02\x04\x0a\x00\x00\x01'; head -c 12 /dev/zero; printf '\x06'; head -c 15 /dev/zero; printf '\x01'; } >"$d/resolved"
printf '\x0310.0.0.0/8:80,443' >"$d/rule4"
printf '\x03[fd00::]/8:8000-8100,*' >"$d/rule6"
printf '\x03192.0.2.7:1' >"$d/rulehost"
