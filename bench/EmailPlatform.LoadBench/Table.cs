using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace EmailPlatform.LoadBench;

/// <summary>The report as a table for the terminal (the JSON file has everything).</summary>
internal static class Table
{
    public static string Render(JsonObject report)
    {
        var text = new StringBuilder();
        void Line(string label, string value) => text.AppendLine(CultureInfo.InvariantCulture, $"{label,-44} {value}");
        string V(JsonNode? node, string unit = "") => node is null ? "-" : node.ToJsonString() + unit;

        var options = report["options"]!;
        text.AppendLine(CultureInfo.InvariantCulture,
            $"{report["benchmark"]} benchmark: {options["workers"]} worker(s) × {options["connections"]} connection(s), " +
            $"{options["body_bytes"]} B bodies, {options["recipients"]} recipient(s), {options["attachments"]} attachment(s)");
        if (report["phases"] is JsonArray phases)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{"phase",-12} {"accepted",9} {"acc/s",8} {"deliv/s",8} {"acc p50",8} {"acc p95",8} {"acc p99",8} {"dlv p50",8} {"dlv p95",8} {"dlv p99",8}  errors");
            foreach (var phase in phases)
            {
                var a = phase!["accept_ms"]!;
                var d = phase["delivered_ms"]!;
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"{phase["name"],-12} {phase["accepted"],9} {phase["accepted_per_s"],8} {phase["delivered_per_s"],8} {a["p50"],8} {a["p95"],8} {a["p99"],8} {d["p50"],8} {d["p95"],8} {d["p99"],8}  {phase["errors"]!.ToJsonString()}");
            }

            text.AppendLine("(acc = HTTP 202 answers; deliv = delivered and recorded by the status service; latencies in ms)");
        }

        if (report["e2e_emails_per_s"] is not null)
        {
            Line("end to end (throughput phase)", V(report["e2e_emails_per_s"], " emails/s"));
        }

        if (report["worker_emails_per_s"] is not null)
        {
            Line("workers, pre-filled queue (first→last outcome)", V(report["worker_emails_per_s"], " emails/s"));
            Line("workers, including process start", V(report["worker_emails_per_s_including_start"], " emails/s"));
        }

        Line($"baseline (bare MailKit, {report["baseline_connections"]} connection(s))", V(report["baseline_emails_per_s"], " emails/s"));
        Line("ratio", V(report["ratio"]));
        foreach (var (service, mb) in report["rss_mb"]?.AsObject() ?? [])
        {
            Line($"peak RSS {service}", V(mb, " MB"));
        }

        if (report["cpu_ms_per_email"] is JsonObject cpu)
        {
            var window = report["benchmark"]!.GetValue<string>() == "e2e" ? "throughput phase" : "the drain";
            Line($"CPU ms per email ({window})", string.Join(", ", cpu.Select(p => $"{p.Key} {p.Value}")));
        }

        var machine = report["machine"]!;
        Line("load average before / after", $"{machine["loadavg_before"]} / {machine["loadavg_after"]} ({machine["cpus"]} CPUs, shared)");
        foreach (var (target, met) in report["targets"]?.AsObject() ?? [])
        {
            Line("target " + target, met!.GetValue<bool>() ? "met" : "MISSED");
        }

        return text.ToString();
    }
}
