# Sourced by ./mvnw before anything else (POSIX sh). Collector compiles and tests with a
# JDK >= 21 that maven-toolchains-plugin discovers, while Maven itself may run on an older JDK.
# This check only turns "no such JDK anywhere" into one clear message before Maven starts; the
# plugin does the real selection. It looks where the plugin looks: JAVA_HOME, the java on PATH,
# and the usual JDK folders.
collector_jdk_feature() { # prints the feature version of the JDK home $1, or nothing
  [ -r "$1/release" ] && [ -x "$1/bin/javac" ] || return 0
  sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$1/release"
}
# Sets collector_jdk25 to the home of a JDK whose feature version is exactly 25, if any.
collector_find_jdk25() {
  collector_jdk25=""
  for collector_home in "${JAVA_HOME-}" /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* \
    "${HOME-}"/.sdkman/candidates/java/* "${HOME-}"/.jdks/* "${HOME-}"/.m2/jdks/* \
    /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -n "$collector_home" ] || continue
    if [ "$(collector_jdk_feature "$collector_home")" = 25 ]; then
      collector_jdk25=$collector_home
      return 0
    fi
  done
}
collector_has_jdk21() {
  collector_path_java=$(command -v java 2>/dev/null || true)
  if [ -n "$collector_path_java" ]; then
    collector_path_java=$(readlink -f "$collector_path_java" 2>/dev/null || echo "$collector_path_java")
    collector_path_java=$(dirname "$(dirname "$collector_path_java")")
  fi
  for collector_home in "${JAVA_HOME-}" "$collector_path_java" /usr/lib/jvm/* /usr/java/* \
    /opt/java/* /opt/jdk* "${HOME-}"/.sdkman/candidates/java/* "${HOME-}"/.jdks/* \
    "${HOME-}"/.m2/jdks/* /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -n "$collector_home" ] || continue
    collector_v=$(collector_jdk_feature "$collector_home")
    if [ -n "$collector_v" ] && [ "$collector_v" -ge 21 ]; then
      collector_jdk21_home=$collector_home
      return 0
    fi
  done
  return 1
}
if ! collector_has_jdk21; then
  echo "Collector needs a JDK 21 or newer to compile and test; none was found." >&2
  echo "Looked at JAVA_HOME (${JAVA_HOME:-unset}), the java on PATH, /usr/lib/jvm, /usr/java," >&2
  echo "/opt/java, ~/.sdkman, ~/.jdks and ~/.m2/jdks. Install one, for example" >&2
  echo "'apt-get install openjdk-21-jdk' or Temurin 21 or 25, then run ./mvnw again" >&2
  echo "(JAVA_HOME may point at it, but need not: the build discovers it)." >&2
  exit 1
fi
# Maven itself runs on that JDK too when the one it would use is older: current
# maven-jar-plugin versions post-process modular jars with the jar tool of Maven's own JVM,
# which cannot read class files compiled for 21 when it is a JDK 17. Compiling and testing still
# go through the toolchain the build selects.
collector_maven_home=${JAVA_HOME-}
[ -n "$collector_maven_home" ] || collector_maven_home=$collector_path_java
collector_maven_v=$(collector_jdk_feature "$collector_maven_home")
if [ -z "$collector_maven_v" ] || [ "$collector_maven_v" -lt 21 ]; then
  JAVA_HOME=$collector_jdk21_home
  export JAVA_HOME
  collector_maven_v=$(collector_jdk_feature "$JAVA_HOME")
fi
# Maven 3.9's own libraries call sun.misc.Unsafe, which JDK 24+ warns about on every run.
if [ -n "$collector_maven_v" ] && [ "$collector_maven_v" -ge 24 ]; then
  case " ${MAVEN_OPTS-} " in
    *sun-misc-unsafe-memory-access*) ;;
    *) MAVEN_OPTS="${MAVEN_OPTS-} --sun-misc-unsafe-memory-access=allow"; export MAVEN_OPTS ;;
  esac
fi
# The scope-conformance tests compare our scope with the JDK 25 preview StructuredTaskScope, so
# they need exactly JDK 25 (preview APIs differ per release). With one installed, the
# collector.jdk25 property turns on the Maven profile that builds them; without, say so.
collector_find_jdk25
if [ -n "$collector_jdk25" ]; then
  MAVEN_ARGS="${MAVEN_ARGS-} -Dcollector.jdk25=$collector_jdk25"
  export MAVEN_ARGS
else
  echo "Note: no JDK 25 found, so collector-scope-conformance (our scope vs the JDK 25" >&2
  echo "StructuredTaskScope) is skipped; install a JDK 25 to run it." >&2
fi
