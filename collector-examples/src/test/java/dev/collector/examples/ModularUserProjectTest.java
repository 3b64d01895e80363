package dev.collector.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Collector;
import dev.collector.core.Collecting;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.jspecify.annotations.NullMarked;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A modular user project ({@code requires dev.collector.core}) compiles with Micrometer absent from
 * the module path: Micrometer is optional, so collector-core must not require it transitively
 * (issue 14, point 9). Compiled here with the JDK's compiler against the very collector-api and
 * collector-core this build produced.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ModularUserProjectTest {

  @Test
  void modularProjectRequiringCore_compilesWithoutMicrometer(@TempDir Path dir) throws Exception {
    assertThrows(
        ClassNotFoundException.class,
        () -> Class.forName("io.micrometer.core.instrument.MeterRegistry"));
    Path src = dir.resolve("src");
    Path pkg = Files.createDirectories(src.resolve("com/example/orders"));
    Files.writeString(
        src.resolve("module-info.java"),
        """
        module com.example.orders {
          requires dev.collector.core;
        }
        """);
    Files.writeString(
        pkg.resolve("Main.java"),
        """
        package com.example.orders;

        import dev.collector.Collector;
        import dev.collector.CollectorOptions;
        import dev.collector.core.Collecting;
        import java.util.List;

        public final class Main {
          public static void main(String[] args) throws Exception {
            try (Collector<String> c = Collecting.open(
                Collecting.listSource(List.of(List.of("a"))), Collecting.inMemoryStore(),
                CollectorOptions.defaults())) {
              System.out.println(c.process(4, batch -> {}).batches());
            }
          }
        }
        """);
    String modulePath =
        List.of(Collecting.class, Collector.class, NullMarked.class).stream()
            .map(ModularUserProjectTest::location)
            .collect(Collectors.joining(File.pathSeparator));
    assertTrue(!modulePath.contains("micrometer"), modulePath);

    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    var diagnostics = new DiagnosticCollector<JavaFileObject>();
    try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, null, null)) {
      Iterable<? extends JavaFileObject> units =
          files.getJavaFileObjects(src.resolve("module-info.java"), pkg.resolve("Main.java"));
      boolean ok =
          javac
              .getTask(
                  null,
                  files,
                  diagnostics,
                  List.of(
                      "--module-path",
                      modulePath,
                      "-d",
                      dir.resolve("out").toString(),
                      "-Xlint:all",
                      "-Werror"),
                  null,
                  units)
              .call();
      assertEquals(
          List.of(),
          diagnostics.getDiagnostics().stream()
              .map(d -> d.getKind() + ": " + d.getMessage(null))
              .toList());
      assertTrue(ok);
    }
  }

  private static String location(Class<?> type) {
    try {
      return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    } catch (java.net.URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }
}
