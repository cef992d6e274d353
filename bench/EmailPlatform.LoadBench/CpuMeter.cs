using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;

namespace EmailPlatform.LoadBench;

/// <summary>
/// The CPU time each part of the run used over a phase: the platform's processes by pid; PostgreSQL, RabbitMQ and the
/// sink by process name (every <c>postgres</c>, <c>beam.smp</c> and <c>smtp-sink</c> process, whoever it serves, so
/// other users of the same servers on the machine count too); the driver itself; and the whole machine's busy time from
/// <c>/proc/stat</c>, so that what the parts do not account for shows. This says where an email's CPU goes when
/// everything shares the cores.
/// </summary>
internal sealed class CpuMeter
{
    private readonly IReadOnlyList<(string Name, Func<TimeSpan> Read)> _parts;
    private readonly TimeSpan[] _start;
    private readonly long _startedAt;

    private CpuMeter(IReadOnlyList<(string Name, Func<TimeSpan> Read)> parts)
    {
        _parts = parts;
        _start = parts.Select(p => p.Read()).ToArray();
        _startedAt = Stopwatch.GetTimestamp();
    }

    public static CpuMeter Start(PlatformStack stack)
    {
        var parts = new List<(string, Func<TimeSpan>)>();
        if (stack.Ingress is { } ingress)
        {
            parts.Add(("ingress", Pid(ingress.ProcessId)));
        }

        if (stack.Status is { } status)
        {
            parts.Add(("status", Pid(status.ProcessId)));
        }

        for (var i = 0; i < stack.Workers.Count; i++)
        {
            if (stack.Workers[i] is { } worker)
            {
                parts.Add(($"delivery-{i}", Pid(worker.ProcessId)));
            }
        }

        parts.Add(("postgresql", Named("postgres")));
        parts.Add(("rabbitmq", Named("beam.smp")));
        parts.Add(("smtp-sink", Named("smtp-sink")));
        parts.Add(("driver", () => Process.GetCurrentProcess().TotalProcessorTime));
        parts.Add(("machine", MachineBusy));
        return new CpuMeter(parts);
    }

    /// <summary>CPU milliseconds per email of each part since the start, their total, and how many cores were busy on average.</summary>
    public JsonObject PerEmail(long emails)
    {
        var wall = Stopwatch.GetElapsedTime(_startedAt);
        var perEmail = new JsonObject();
        var total = TimeSpan.Zero;
        var machine = TimeSpan.Zero;
        for (var i = 0; i < _parts.Count; i++)
        {
            var used = _parts[i].Read() - _start[i];
            if (_parts[i].Name == "machine")
            {
                machine = used;
                continue;
            }

            total += used;
            perEmail[_parts[i].Name] = PerEmail(used, emails);
        }

        perEmail["total"] = PerEmail(total, emails);
        perEmail["machine"] = PerEmail(machine, emails);
        return new JsonObject
        {
            ["cpu_ms_per_email"] = perEmail,
            ["cores_busy"] = Math.Round(total / wall, 2),
            ["machine_cores_busy"] = Math.Round(machine / wall, 2),
            ["window_s"] = Math.Round(wall.TotalSeconds, 2),
        };
    }

    private static double PerEmail(TimeSpan used, long emails) => Math.Round(used.TotalMilliseconds / Math.Max(emails, 1), 3);

    /// <summary>The machine's CPU time not idle since boot: <c>/proc/stat</c>'s first line, in USER_HZ (100 per second on Linux).</summary>
    private static TimeSpan MachineBusy()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var idle = fields[3] + fields[4]; // idle, iowait
        var busy = fields.Take(8).Sum() - idle; // user nice system idle iowait irq softirq steal (guest is counted in user)
        return TimeSpan.FromMilliseconds(busy * 10);
    }

    private static Func<TimeSpan> Pid(int pid) => () =>
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.TotalProcessorTime;
        }
        catch (ArgumentException)
        {
            return TimeSpan.Zero; // exited
        }
    };

    private static Func<TimeSpan> Named(string name) => () =>
    {
        var sum = TimeSpan.Zero;
        foreach (var process in Process.GetProcessesByName(name))
        {
            using (process)
            {
                try
                {
                    sum += process.TotalProcessorTime;
                }
                catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // exited between the listing and the read
                }
            }
        }

        return sum;
    };
}
