package dev.collector.core;

import java.util.concurrent.Callable;
import java.util.concurrent.StructuredTaskScope;
import java.util.function.Supplier;

/**
 * The tiny adapter every conformance scenario is written against: fork, join, close and the
 * cancelled flag, over either our {@link StructuredScope} or the JDK 25 {@link StructuredTaskScope}
 * opened with its default joiner ({@code awaitAllSuccessfulOrThrow}).
 */
interface ScopeUnderTest extends AutoCloseable {

  /** A forked subtask, with the state names of {@code StructuredTaskScope.Subtask.State}. */
  interface Task<T> {
    String state();

    T get();

    Throwable exception();

    static <T> Task<T> of(Supplier<String> state, Supplier<T> get, Supplier<Throwable> exception) {
      return new Task<>() {
        @Override
        public String state() {
          return state.get();
        }

        @Override
        public T get() {
          return get.get();
        }

        @Override
        public Throwable exception() {
          return exception.get();
        }
      };
    }
  }

  /** What join throws when a subtask failed, for either implementation. */
  final class Failed extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Failed(Throwable cause) {
      super(cause);
    }
  }

  <T> Task<T> fork(Callable<T> task);

  void join() throws InterruptedException;

  boolean isCancelled();

  @Override
  void close();

  /** The two implementations. */
  enum Impl {
    OURS {
      @Override
      ScopeUnderTest open() {
        StructuredScope scope = new StructuredScope();
        return new ScopeUnderTest() {
          private int forks;

          @Override
          public <T> Task<T> fork(Callable<T> task) {
            StructuredScope.Subtask<T> subtask = scope.fork("conformance-" + forks++, task);
            return Task.of(() -> subtask.state().name(), subtask::get, subtask::exception);
          }

          @Override
          public void join() throws InterruptedException {
            try {
              scope.join();
            } catch (StructuredScope.FailedException e) {
              throw new Failed(e.getCause());
            }
          }

          @Override
          public boolean isCancelled() {
            return scope.isCancelled();
          }

          @Override
          public void close() {
            scope.close();
          }
        };
      }
    },
    JDK {
      @Override
      ScopeUnderTest open() {
        StructuredTaskScope<Object, Void> scope = StructuredTaskScope.open();
        return new ScopeUnderTest() {
          @Override
          public <T> Task<T> fork(Callable<T> task) {
            StructuredTaskScope.Subtask<T> subtask = scope.fork(task);
            return Task.of(() -> subtask.state().name(), subtask::get, subtask::exception);
          }

          @Override
          public void join() throws InterruptedException {
            try {
              scope.join();
            } catch (StructuredTaskScope.FailedException e) {
              throw new Failed(e.getCause());
            }
          }

          @Override
          public boolean isCancelled() {
            return scope.isCancelled();
          }

          @Override
          public void close() {
            scope.close();
          }
        };
      }
    };

    abstract ScopeUnderTest open();
  }
}
