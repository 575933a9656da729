#!/usr/bin/env bash
# Harness TLS material in $STATE/tls: a CA, a server certificate for
# localhost/127.0.0.1, a client certificate for mutual-TLS tests, and Java
# PKCS12 key/trust stores. Made once; delete $STATE/tls to remake.

tls_dir() { printf '%s/tls' "$STATE"; }

tls_ensure() {
  local d
  d="$(tls_dir)"
  [[ -s "$d/truststore.p12" ]] && return 0
  command -v openssl >/dev/null || apt_ensure openssl
  mkdir -p "$d"
  tls_make_ca "$d"
  tls_make_leaf "$d" server "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1" serverAuth
  tls_make_leaf "$d" client "/CN=$SPARK_DS_USER" "subjectAltName=DNS:$SPARK_DS_USER" clientAuth
  tls_make_stores "$d"
  chmod 644 "$d"/*.key
}

# The client certificate and its key in one PEM file (pymongo's and some drivers' form).
tls_client_bundle() {
  local d
  d="$(tls_dir)"
  [[ -s "$d/client-bundle.pem" ]] || cat "$d/client.pem" "$d/client.key" >"$d/client-bundle.pem"
}

tls_make_ca() {
  local d="$1"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=spark-ds test CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# tls_make_leaf DIR NAME SUBJECT SAN EKU
tls_make_leaf() {
  local d="$1" name="$2" subj="$3" san="$4" eku="$5" ext
  ext="$d/$name.ext"
  printf '%s\nextendedKeyUsage=%s\nkeyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n' \
    "$san" "$eku" >"$ext"
  openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$d/$name.key" -out "$d/$name.csr" 2>/dev/null
  openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$ext" -out "$d/$name.pem" 2>/dev/null
  rm -f "$d/$name.csr" "$ext"
}

tls_make_stores() {
  local d="$1" pw="$SPARK_DS_TLS_PASSWORD"
  openssl pkcs12 -export -name server -in "$d/server.pem" -inkey "$d/server.key" \
    -certfile "$d/ca.pem" -passout "pass:$pw" -out "$d/keystore.p12"
  openssl pkcs12 -export -name client -in "$d/client.pem" -inkey "$d/client.key" \
    -certfile "$d/ca.pem" -passout "pass:$pw" -out "$d/client-keystore.p12"
  keytool -importcert -noprompt -alias ca -file "$d/ca.pem" -storetype PKCS12 \
    -keystore "$d/truststore.p12" -storepass "$pw" >/dev/null 2>&1 \
    || die "keytool (Java) is needed for the Java truststore"
}
