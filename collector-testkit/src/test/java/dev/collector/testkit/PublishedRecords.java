package dev.collector.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * Lists the public types of one package as compiled into the module under test (its output
 * directory or jar), for the "no public records but the allowed ones" tests of ADR 0008. A copy of
 * collector-api's test helper: the modules share no test code.
 */
final class PublishedRecords {

  private PublishedRecords() {}

  /**
   * The public (and publicly reachable, for nested types) classes of {@code anchor}'s package,
   * loaded from where {@code anchor} was loaded.
   */
  static List<Class<?>> publicTypesOf(Class<?> anchor) {
    String pkg = anchor.getPackageName();
    String dir = pkg.replace('.', '/') + "/";
    List<String> names = new ArrayList<>();
    try {
      Path location = Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI());
      if (Files.isDirectory(location)) {
        try (Stream<Path> files = Files.list(location.resolve(dir))) {
          files.map(f -> f.getFileName().toString()).forEach(names::add);
        }
      } else {
        try (JarFile jar = new JarFile(location.toFile())) {
          jar.stream()
              .map(e -> e.getName())
              .filter(n -> n.startsWith(dir) && n.indexOf('/', dir.length()) < 0)
              .map(n -> n.substring(dir.length()))
              .forEach(names::add);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
    List<Class<?>> types = new ArrayList<>();
    for (String file : new TreeSet<>(names)) {
      if (!file.endsWith(".class") || file.equals("package-info.class")) {
        continue;
      }
      String binaryName = pkg + "." + file.substring(0, file.length() - ".class".length());
      Class<?> type;
      try {
        type = Class.forName(binaryName, false, anchor.getClassLoader());
      } catch (ClassNotFoundException e) {
        throw new IllegalStateException(e);
      }
      if (publiclyReachable(type)) {
        types.add(type);
      }
    }
    return types;
  }

  private static boolean publiclyReachable(Class<?> type) {
    for (Class<?> c = type; c != null; c = c.getEnclosingClass()) {
      if (!Modifier.isPublic(c.getModifiers()) || c.isAnonymousClass() || c.isLocalClass()) {
        return false;
      }
    }
    return true;
  }
}
