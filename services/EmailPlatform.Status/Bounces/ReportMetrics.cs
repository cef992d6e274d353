using System.Diagnostics.Metrics;

namespace EmailPlatform.Status.Bounces;

/// <summary>
/// The counter of the messages handed in as one kind of report (<see cref="BounceMetrics"/>,
/// <see cref="Complaints.ComplaintMetrics"/>), by how they came (<c>emailplatform.via</c>) and what became of them
/// (<c>emailplatform.result</c>): what the recorded report says, or the refusal (<c>invalid_message</c>,
/// <paramref name="notAReport"/>, <c>unknown_email</c>, <c>not_recorded_yet</c>).
/// </summary>
/// <param name="received">
/// The kind's counter, made by the kind with its name written out, where the deployment tests read every instrument's
/// name to check the dashboard and the alerts against.
/// </param>
/// <param name="notAReport">The result for a message that holds no report of this kind (<see cref="ReportRefusal.NotAReport"/>).</param>
public abstract class ReportMetrics<TResponse>(Counter<long> received, string notAReport)
    where TResponse : class
{
    public void Received(string via, ReportOutcome<TResponse> outcome) =>
        Add(via, outcome.Refusal is { } refusal ? ResultOf(refusal) : RecordedResult(outcome.Recorded!));

    /// <summary>Counts a message refused before it was read as a report of any kind: the SMTP listener counts one that is no message as a bounce report.</summary>
    public void Received(string via, ReportRefusal refusal) => Add(via, ResultOf(refusal));

    /// <summary>What became of a report that was recorded: <c>recorded</c>, unless the kind's answer says more.</summary>
    protected virtual string RecordedResult(TResponse recorded) => "recorded";

    private string ResultOf(ReportRefusal refusal) => refusal switch
    {
        ReportRefusal.InvalidMessage => "invalid_message",
        ReportRefusal.NotAReport => notAReport,
        ReportRefusal.NotRecordedYet => "not_recorded_yet",
        _ => "unknown_email",
    };

    private void Add(string via, string result) =>
        received.Add(1, new KeyValuePair<string, object?>("emailplatform.via", via), new KeyValuePair<string, object?>("emailplatform.result", result));
}
