namespace EmailPlatform.Contracts;

/// <summary>
/// Asks the ingress to cancel one scheduled email that has not left yet, exactly as
/// <c>POST /v1/emails/{id}/cancel</c> would; an email that already left (or was canceled) is left alone, so the
/// command is safe to repeat. Sent by the status service's bulk cancel. A successful cancel announces itself with
/// <see cref="EmailCanceled"/>.
/// </summary>
public sealed record CancelEmail(Guid CommandId, Guid EmailId, DateTimeOffset RequestedAt);
