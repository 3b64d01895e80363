package dev.collector.testkit;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * A JUnit 5 extension that fails a test if a collector thread is still alive after it (a
 * collector or pull session left open, a handler that outlived its run), and injects a fresh
 * {@link CompletionController} into test methods that declare one.
 *
 * {@snippet :
 * @ExtendWith(CollectorLeakCheck.class)
 * class MyHandlerTest {
 *   @Test
 *   void handlesOutOfOrder(CompletionController<String> controller) { ... }
 * }
 * }
 *
 * <p>Collector threads are found by name ({@code <collector>-handler-<n>}, {@code -fetcher},
 * {@code -committer}, {@code -watchdog}, {@code -owner}) in a JDK thread dump, which also lists virtual threads.
 */
public final class CollectorLeakCheck implements AfterEachCallback, ParameterResolver {

  private static final Pattern COLLECTOR_THREAD =
      Pattern.compile("\"name\": \"([A-Za-z0-9._-]+-(?:handler-\\d+|fetcher|committer|watchdog|owner))\"");

  /** Creates the extension; JUnit does this for {@code @ExtendWith}. */
  public CollectorLeakCheck() {}

  @Override
  public void afterEach(ExtensionContext context) {
    List<String> alive = liveCollectorThreads();
    if (!alive.isEmpty()) {
      throw new AssertionError(
          context.getDisplayName() + " left collector threads running: " + alive + ". Close"
              + " every collector (try-with-resources) and make handlers end on interrupt");
    }
  }

  /**
   * The names of the collector threads alive now.
   *
   * @return the names, empty if none
   */
  public static List<String> liveCollectorThreads() {
    try {
      Path dir = Files.createTempDirectory("collector-leak-check");
      Path dump = dir.resolve("threads.json");
      try {
        ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
            .dumpThreads(dump.toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.JSON);
        Matcher m = COLLECTOR_THREAD.matcher(Files.readString(dump));
        List<String> names = new ArrayList<>();
        while (m.find()) {
          names.add(m.group(1));
        }
        return names;
      } finally {
        Files.deleteIfExists(dump);
        Files.deleteIfExists(dir);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("could not take a thread dump", e);
    }
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext extension) {
    return parameter.getParameter().getType() == CompletionController.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext extension) {
    return new CompletionController<>();
  }
}
