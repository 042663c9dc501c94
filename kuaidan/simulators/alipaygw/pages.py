"""The gateway's cashier pages: plain HTML, escaped, with no scripts at all."""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse

from kuaidan.simulators.alipaygw.protocol import fen_to_yuan
from kuaidan.simulators.alipaygw.store import Trade

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self' https:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STYLE = (
    "body{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "h1{color:#1677ff;font-size:1.4rem}.amount{font-size:2rem;font-weight:bold}"
    "form{display:inline}button{font-size:1rem;padding:.6rem 1.4rem;margin:.4rem .4rem 0 0}"
    ".pay{background:#1677ff;color:#fff;border:0}.note{color:#888;font-size:.85rem}"
)


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · 支付宝 收银台 (local)</title><style>{STYLE}</style></head>"
        f"<body><h1>支付宝 收银台 Alipay cashier (local)</h1>{body}"
        '<p class="note">本地测试网关，不产生真实扣款 '
        "A local test gateway: no real money moves.</p>"
        "</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def cashier_page(trade: Trade) -> HTMLResponse:
    token = escape(trade.token)
    body = (
        f'<p>商户应用 Merchant app: <strong data-testid="app">{escape(trade.app_id)}</strong></p>'
        f'<p>商品 Subject: <span data-testid="subject">{escape(trade.subject)}</span></p>'
        f'<p class="amount" data-testid="amount">¥{fen_to_yuan(trade.total_fen)}</p>'
        f'<p class="note">商户订单号 Order: {escape(trade.out_trade_no)}</p>'
        '<form method="post" action="/cashier/pay">'
        f'<input type="hidden" name="token" value="{token}">'
        '<button class="pay" type="submit">确认付款 Pay</button></form>'
        '<form method="post" action="/cashier/cancel">'
        f'<input type="hidden" name="token" value="{token}">'
        '<button type="submit">取消 Cancel</button></form>'
    )
    return _page("付款 Pay", body)


def cancelled_page(trade: Trade) -> HTMLResponse:
    parts = urlsplit(trade.return_url)
    merchant = escape(f"{parts.scheme}://{parts.netloc}/")
    body = (
        "<p>已取消付款 You did not pay. 订单在超时前仍可支付 The order stays payable until it "
        f'times out.</p><p><a href="{merchant}">返回商户 Back to the merchant</a></p>'
    )
    return _page("已取消 Cancelled", body)


def error_page(message: str, *, status: int = 400) -> HTMLResponse:
    body = f'<p data-testid="error">错误 Error: {escape(message)}</p>'
    return _page("错误 Error", body, status=status)
