using System.Globalization;
using EmailPlatform.Testing;

namespace EmailPlatform.Resilience.Tests.Support;

/// <summary>
/// A RabbitMQ node of the test's own (its own node name, ports, data and no plugins), so the test can restart the
/// broker without disconnecting every other test project using the shared one at the same time. Removed on dispose.
/// </summary>
internal sealed class DedicatedRabbitMq : IAsyncDisposable
{
    private const string User = "rabbitmq";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    private readonly string _directory;
    private readonly Dictionary<string, string> _environment;

    private DedicatedRabbitMq(string directory, string node, int port)
    {
        _directory = directory;
        Node = node;
        Port = port;
        _environment = new Dictionary<string, string>
        {
            // The CLI tools find the Erlang cookie of the rabbitmq user there, and so share it with the node.
            ["HOME"] = "/var/lib/rabbitmq",
            ["RABBITMQ_NODENAME"] = node,
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODE_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["RABBITMQ_DIST_PORT"] = ServiceProcess.FreeTcpPort().ToString(CultureInfo.InvariantCulture),
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(directory, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(directory, "log"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(directory, "enabled_plugins"),
            ["RABBITMQ_PID_FILE"] = Path.Combine(directory, "pid"),
            ["RABBITMQ_CONFIG_FILE"] = Path.Combine(directory, "rabbitmq"),
        };
    }

    public string Node { get; }

    public int Port { get; }

    /// <summary>The default virtual host with the built-in guest user (allowed from loopback only).</summary>
    public Uri Uri => new($"amqp://guest:guest@127.0.0.1:{Port}/");

    public static async Task<DedicatedRabbitMq> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"ep-fault-rabbitmq-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "enabled_plugins"), "[].");
        if (Shell.IsRoot)
        {
            await Shell.RunCheckedAsync(null, new Dictionary<string, string>(), Timeout, "chown", "-R", $"{User}:{User}", directory);
        }

        var broker = new DedicatedRabbitMq(directory, $"ep-fault-{Guid.NewGuid():N}"[..20] + "@localhost", ServiceProcess.FreeTcpPort());
        try
        {
            await broker.StartAgainAsync();
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Stops the whole node as a restart does (SIGTERM, RabbitMQ's orderly shutdown, rather than the CLI, which takes
    /// seconds to start on a loaded machine): every connection drops, unacknowledged messages return to their queues.
    /// </summary>
    public async Task StopAsync()
    {
        var pid = (await File.ReadAllTextAsync(Path.Combine(_directory, "pid"))).Trim();
        await Shell.RunCheckedAsync(null, new Dictionary<string, string>(), Timeout, "kill", "-TERM", pid);
        var deadline = DateTime.UtcNow + Timeout;
        while (Directory.Exists($"/proc/{pid}"))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The dedicated RabbitMQ node {Node} (pid {pid}) did not stop within {Timeout}.");
            }

            await Task.Delay(100);
        }
    }

    public async Task StartAgainAsync()
    {
        await Shell.RunCheckedAsync(User, _environment, Timeout, "/usr/lib/rabbitmq/bin/rabbitmq-server", "-detached");

        // await_startup fails outright until the node has registered with epmd, so it is polled.
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var (code, output) = await Shell.RunAsync(User, _environment, TimeSpan.FromSeconds(70), "/usr/lib/rabbitmq/bin/rabbitmqctl", "-q", "-n", Node, "await_startup", "--timeout", "60");
            if (code == 0)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"The dedicated RabbitMQ node {Node} did not start: {output}");
            }

            await Task.Delay(1000);
        }
    }

    /// <summary>
    /// Raises a memory alarm (a watermark of one byte, until the node restarts): the node stops reading from publishing
    /// connections, so every publish from then on waits for a confirm that does not come while the node is up.
    /// </summary>
    public async Task BlockPublishersAsync()
    {
        await Shell.RunCheckedAsync(User, _environment, Timeout, "/usr/lib/rabbitmq/bin/rabbitmqctl", "-q", "-n", Node,
            "set_vm_memory_high_watermark", "absolute", "1");
    }

    /// <summary>Ends <see cref="BlockPublishersAsync"/>'s alarm: the node's default watermark again, without a restart.</summary>
    public async Task UnblockPublishersAsync()
    {
        await Shell.RunCheckedAsync(User, _environment, Timeout, "/usr/lib/rabbitmq/bin/rabbitmqctl", "-q", "-n", Node,
            "set_vm_memory_high_watermark", "0.4");
    }

    /// <summary>The node's queues (default virtual host), one per line: name, ready, unacknowledged, consumers.</summary>
    public async Task<string> ListQueuesAsync()
    {
        var (code, output) = await Shell.RunAsync(User, _environment, TimeSpan.FromSeconds(70), "/usr/lib/rabbitmq/bin/rabbitmqctl", "-q", "-n", Node,
            "list_queues", "name", "messages_ready", "messages_unacknowledged", "consumers");
        return code == 0 ? output : $"rabbitmqctl list_queues failed ({code}): {output}";
    }

    public async ValueTask DisposeAsync()
    {
        var (code, _) = await Shell.RunAsync(User, _environment, Timeout, "/usr/lib/rabbitmq/bin/rabbitmqctl", "-q", "-n", Node, "stop");
        if (code != 0 && File.Exists(Path.Combine(_directory, "pid"))
            && int.TryParse(await File.ReadAllTextAsync(Path.Combine(_directory, "pid")), out var pid))
        {
            await Shell.RunAsync(null, new Dictionary<string, string>(), Timeout, "kill", "-9", pid.ToString(CultureInfo.InvariantCulture));
        }

        Directory.Delete(_directory, recursive: true);
    }
}
