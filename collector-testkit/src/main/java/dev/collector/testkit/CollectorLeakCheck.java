package dev.collector.testkit;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * A JUnit 5 extension that fails a test if it left a collector thread alive (a collector or
 * pull session left open, a handler that outlived its run), and injects a fresh {@link
 * CompletionController} into test methods that declare one.
 *
 * {@snippet :
 * @ExtendWith(CollectorLeakCheck.class)
 * class MyHandlerTest {
 *   @Test
 *   void handlesOutOfOrder(CompletionController<String> controller) { ... }
 * }
 * }
 *
 * <p><b>Which test is blamed.</b> Each test is compared with itself: the collector threads alive
 * before it are taken, and only threads that appeared during the test and are still alive after
 * it fail it. A leak in one test therefore fails that test only, never the tests after it.
 *
 * <p><b>What a collector thread is.</b> Not a name: a thread whose stack runs the collector's
 * own run code ({@code dev.collector.core} classes {@code ProcessRun}, {@code BatchRunner},
 * {@code Committer}, {@code Fetcher}, {@code PullSession}, {@code Watchdog}, {@code
 * StructuredScope}), found in a JDK thread dump that also lists virtual threads. An application
 * thread named {@code billing-watchdog} is not one. A thread still inside {@code process()} (a
 * test's background run left running) counts too.
 */
public final class CollectorLeakCheck
    implements BeforeEachCallback, AfterEachCallback, ParameterResolver {

  private static final Pattern THREAD =
      Pattern.compile("\"tid\": \"?(\\d+)\"?,.*?\"name\": \"((?:[^\"\\\\]|\\\\.)*)\",.*?\"stack\": \\[(.*?)\\]",
          Pattern.DOTALL);
  private static final Pattern COLLECTOR_FRAME =
      Pattern.compile("dev\\.collector\\.core\\.(?:ProcessRun|BatchRunner|Committer|Fetcher"
          + "|PullSession|Watchdog|StructuredScope)[.$]");
  private static final ExtensionContext.Namespace NAMESPACE =
      ExtensionContext.Namespace.create(CollectorLeakCheck.class);
  /** How long a thread that is ending anyway may take to leave the dump. */
  private static final long GRACE_NANOS = 2_000_000_000L;

  /**
   * A collector thread in a thread dump.
   *
   * @param id the thread id
   * @param name the thread's name
   */
  public record CollectorThread(long id, String name) {}

  /** Creates the extension; JUnit does this for {@code @ExtendWith}. */
  public CollectorLeakCheck() {}

  @Override
  public void beforeEach(ExtensionContext context) {
    Set<Long> before =
        collectorThreads().stream().map(CollectorThread::id).collect(Collectors.toSet());
    context.getStore(NAMESPACE).put(context.getUniqueId(), before);
  }

  @Override
  public void afterEach(ExtensionContext context) {
    Object stored = context.getStore(NAMESPACE).remove(context.getUniqueId());
    Set<?> before = stored instanceof Set<?> set ? set : Set.of();
    List<CollectorThread> leaked = leakedSince(before);
    long deadline = System.nanoTime() + GRACE_NANOS;
    while (!leaked.isEmpty() && System.nanoTime() < deadline) {
      LockSupport.parkNanos(20_000_000L); // a thread that is ending leaves the dump shortly
      leaked = leakedSince(before);
    }
    if (!leaked.isEmpty()) {
      throw new AssertionError(
          context.getDisplayName() + " left collector threads running: "
              + leaked.stream().map(CollectorThread::name).toList() + ". Close every collector"
              + " (try-with-resources) and make handlers end on interrupt");
    }
  }

  private static List<CollectorThread> leakedSince(Set<?> before) {
    return collectorThreads().stream().filter(t -> !before.contains(t.id())).toList();
  }

  /**
   * The names of the collector threads alive now.
   *
   * @return the names, empty if none
   */
  public static List<String> liveCollectorThreads() {
    return collectorThreads().stream().map(CollectorThread::name).toList();
  }

  /**
   * The collector threads alive now: threads whose stack runs the collector's run code.
   *
   * @return them, empty if none
   */
  public static List<CollectorThread> collectorThreads() {
    List<CollectorThread> found = new ArrayList<>();
    Matcher m = THREAD.matcher(threadDump());
    while (m.find()) {
      if (COLLECTOR_FRAME.matcher(m.group(3)).find()) {
        found.add(new CollectorThread(Long.parseLong(m.group(1)), m.group(2)));
      }
    }
    return found;
  }

  private static String threadDump() {
    try {
      Path dir = Files.createTempDirectory("collector-leak-check");
      Path dump = dir.resolve("threads.json");
      try {
        ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
            .dumpThreads(dump.toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.JSON);
        return Files.readString(dump);
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
