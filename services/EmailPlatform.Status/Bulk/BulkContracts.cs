using EmailPlatform.Status.Reads;

namespace EmailPlatform.Status.Bulk;

/// <summary>
/// <c>POST /v1/bulk/retry</c> and <c>/v1/bulk/cancel</c>: which emails (<see cref="EmailFilter"/>, as
/// <c>GET /v1/emails</c> has them), whether only to report what would be touched, and where to continue a truncated run.
/// </summary>
public sealed record BulkRequest(EmailFilter? Filter, bool? DryRun, string? Cursor);

/// <summary>
/// What a bulk request touched (or, in a dry run, would touch): how many emails and recipients, the first
/// <see cref="BulkEndpoints.PageSize"/> of them, and — when more matched than one request may touch — <c>truncated</c>
/// with the <c>next_cursor</c> to send as <c>cursor</c> for the rest. <see cref="Id"/> is the audit record's id
/// (null in a dry run, which records nothing).
/// </summary>
public sealed record BulkResponse(
    string Object,
    Guid? Id,
    bool DryRun,
    int Emails,
    int Recipients,
    bool Truncated,
    string? NextCursor,
    IReadOnlyList<BulkItem> Data);

/// <summary>One email touched, with the recipients a retry asks for (empty for a cancel).</summary>
public sealed record BulkItem(Guid EmailId, IReadOnlyList<string> Recipients);
